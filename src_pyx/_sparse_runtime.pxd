# The part of src_pyx/simd/runtime.h that _sparse.pyx uses: 64-byte aligned zeroed allocation
# and the pacing of the checks for pending signals (Ctrl-C). Declared here rather than
# cimported from _simd_api.pxd, whose cimport would include simd/dispatch.h (every SIMD
# variant of the dense kernels) into the sparse module. Raw pointers, no checks.

cdef extern from "simd/runtime.h" nogil:
    void* fr_alloc(size_t nbytes)
    void fr_free(void* p)
    ctypedef struct fr_poll_t:
        Py_ssize_t work
    void fr_poll_init(fr_poll_t* p)
    int fr_poll_due(fr_poll_t* p, Py_ssize_t work)
    void fr_poll_done(fr_poll_t* p)
