# The C of src_pyx/simd/ as Cython sees it (cimported by _linear.pyx). Each block declares
# what one header provides: dispatch.h the instruction-set tables and the typed calls through
# them, pack.h the weights' panel layout, runtime.h allocation, OpenMP, the barrier and the
# pacing of the signal checks.
# Raw pointers, C ints, no checks: the callers pass valid memory (see each header).

cdef extern from "simd/dispatch.h" nogil:
    ctypedef struct fr_simd:
        const char* name
        int vbytes
        void (*vexp)(double* x, int n) noexcept nogil
        void (*vlog1p)(double* x, int n) noexcept nogil
    enum:
        FR_STORE
        FR_ADD
        FR_UPDATE
        FR_ADD_UPDATE
    int fr_simd_available(const fr_simd** out)
    void fr_fwd(const fr_simd* s, int kind, const void** rows, const void** pf, int nrows,
                int j0, int j1, const void* W, int K, int kn, void* Z, int ldz)
    void fr_bwd_f32(const fr_simd* s, int kind, const void** rows, int nrows, int j0, int j1,
                    const float* G, int ldg, int K, int kn, float* W, float* gbuf,
                    int mode, float c_grad, float l2x2, float lr, const float* pscale)
    void fr_bwd_f64(const fr_simd* s, int kind, const void** rows, int nrows, int j0, int j1,
                    const double* G, int ldg, int K, int kn, double* W, double* gbuf,
                    int mode, double c_grad, double l2x2, double lr, const double* pscale)
    void fr_logits_f32(const fr_simd* s, const float* zpart, Py_ssize_t zslot, int nt,
                       int nrows, int K, float scale, const float* b, float* G)
    void fr_logits_f64(const fr_simd* s, const double* zpart, Py_ssize_t zslot, int nt,
                       int nrows, int K, double scale, const double* b, double* G)
    double fr_softmax_rows_f32(const fr_simd* s, const float* zpart, Py_ssize_t zslot, int nt,
                               int nrows, int K, float scale, const float* b, const int* y,
                               const float* v, float* G, double* gsum, double* correct,
                               double* tmp)
    double fr_softmax_rows_f64(const fr_simd* s, const double* zpart, Py_ssize_t zslot, int nt,
                               int nrows, int K, double scale, const double* b, const int* y,
                               const double* v, double* G, double* gsum, double* correct,
                               double* tmp)

    double fr_sigmoid_rows_f32(const fr_simd* s, const float* zpart, Py_ssize_t zslot, int nt,
                               int nrows, int K, float scale, const float* b, const int* y,
                               const float* v, float* G, double* gsum, double* correct,
                               double* tmp)
    double fr_sigmoid_rows_f64(const fr_simd* s, const double* zpart, Py_ssize_t zslot, int nt,
                               int nrows, int K, double scale, const double* b, const int* y,
                               const double* v, double* G, double* gsum, double* correct,
                               double* tmp)

cdef extern from "simd/pack.h" nogil:
    size_t fr_panel_size(int K, int d, int itemsize)
    void fr_pack_f32(float* Wp, const float* coef, int K, int d)
    void fr_unpack_f32(float* coef, const float* Wp, int K, int d)
    void fr_pack_f64(double* Wp, const double* coef, int K, int d)
    void fr_unpack_f64(double* coef, const double* Wp, int K, int d)

cdef extern from "simd/runtime.h" nogil:
    void* fr_alloc(size_t nbytes)
    void fr_free(void* p)
    ctypedef struct fr_barrier_t:
        int n
    void fr_barrier_setup(fr_barrier_t* b)
    void fr_barrier_wait(fr_barrier_t* b, int* local_sense)
    int fr_team_size()
    int fr_have_openmp()
    int fr_max_threads()
    Py_ssize_t fr_claim(Py_ssize_t* next)
    ctypedef struct fr_poll_t:
        Py_ssize_t work
    void fr_poll_init(fr_poll_t* p)
    int fr_poll_due(fr_poll_t* p, Py_ssize_t work)
    void fr_poll_done(fr_poll_t* p)
    void fr_store_ssize(Py_ssize_t* p, Py_ssize_t v)
    Py_ssize_t fr_load_ssize(const Py_ssize_t* p)
