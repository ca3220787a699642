"""Moving images between registries, OCI image layouts and docker-archive tars.

``endpoints`` turns a transport string (``docker://``, ``oci:``, ``docker-archive:``) into a
source or destination; ``copy`` moves one image or index between any two of them, streaming
blobs straight from source to destination; ``sync`` repeats that for whole repositories.
"""
