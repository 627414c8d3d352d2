/*
 * A stand-in for NVIDIA's libraries, for machines without a GPU: the same C entry points that
 * gpuflow declares through koffi (NVML, CUDA runtime and driver, cuBLAS, cuBLASLt, NVRTC), with
 * "device" memory in host RAM and the math done on the CPU by the BLAS definitions
 * (column-major, op(A), leading dimensions, epilogues). It proves the FFI signatures, the
 * pointer handling and the row-/column-major layout without a GPU; it proves nothing about
 * speed. The device it reports is named "gpuflow fake GPU" so no output can be mistaken for a
 * real one. Build: cc -shared -fPIC -O2 -o libfake_nvidia.so fake_nvidia.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#define FAKE_TOTAL (80ULL << 30)

/* ---------- NVML ---------- */
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
typedef struct {
  char busIdLegacy[16]; unsigned int domain, bus, device, pciDeviceId, pciSubSystemId; char busId[32];
} nvmlPciInfo_t;
static int fake_devices(void) { const char *n = getenv("FAKE_NVIDIA_DEVICES"); return n ? atoi(n) : 1; }
static int nvml_up = 0;
int nvmlInit_v2(void) { nvml_up = 1; return 0; }
int nvmlShutdown(void) { nvml_up = 0; return 0; }
const char *nvmlErrorString(int r) { return r == 0 ? "Success" : r == 3 ? "Not Supported" : "Unknown Error"; }
int nvmlSystemGetDriverVersion(char *v, unsigned int len) { snprintf(v, len, "fake-580.0"); return 0; }
int nvmlDeviceGetCount_v2(unsigned int *c) { if (!nvml_up) return 1; *c = fake_devices(); return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **h) { if ((int)i >= fake_devices()) return 2; *h = (void *)(uintptr_t)(0x1000 + i); return 0; }
static int idx(void *h) { return (int)((uintptr_t)h - 0x1000); }
int nvmlDeviceGetName(void *h, char *n, unsigned int len) { (void)h; snprintf(n, len, "gpuflow fake GPU"); return 0; }
int nvmlDeviceGetUUID(void *h, char *u, unsigned int len) { snprintf(u, len, "GPU-fa4e0000-0000-0000-0000-%012d", idx(h)); return 0; }
int nvmlDeviceGetMemoryInfo(void *h, nvmlMemory_t *m) { (void)h; m->total = FAKE_TOTAL; m->used = 512ULL << 20; m->free = m->total - m->used; return 0; }
int nvmlDeviceGetUtilizationRates(void *h, nvmlUtilization_t *u) { (void)h; u->gpu = 3; u->memory = 1; return 0; }
int nvmlDeviceGetTemperature(void *h, int s, unsigned int *t) { (void)h; (void)s; *t = 35; return 0; }
int nvmlDeviceGetPowerUsage(void *h, unsigned int *p) { (void)h; *p = 78347; return 0; }
int nvmlDeviceGetEnforcedPowerLimit(void *h, unsigned int *p) { (void)h; *p = 700000; return 0; }
int nvmlDeviceGetPciInfo_v3(void *h, nvmlPciInfo_t *p) {
  memset(p, 0, sizeof *p); p->device = 6 + idx(h);
  snprintf(p->busIdLegacy, 16, "0000:00:%02x.0", p->device); snprintf(p->busId, 32, "00000000:00:%02x.0", p->device); return 0;
}
int nvmlDeviceGetCudaComputeCapability(void *h, int *ma, int *mi) { (void)h; *ma = 9; *mi = 0; return 0; }
int nvmlDeviceGetClockInfo(void *h, int t, unsigned int *c) { (void)h; *c = t == 2 ? 2619 : 1980; return 0; }
int nvmlDeviceGetTotalEccErrors(void *h, int e, int c, unsigned long long *n) { (void)h; (void)e; (void)c; *n = 0; return 0; }
int nvmlDeviceGetMigMode(void *h, unsigned int *cur, unsigned int *pend) { (void)h; *cur = 0; *pend = 0; return 0; }
int nvmlDeviceGetNvLinkState(void *h, unsigned int l, int *a) { (void)h; (void)l; (void)a; return 3; }
int nvmlDeviceGetTopologyCommonAncestor(void *a, void *b, int *lvl) { (void)a; (void)b; *lvl = 50; return 0; }

/* ---------- CUDA runtime ---------- */
int cudaGetDeviceCount(int *c) { *c = fake_devices(); return 0; }
const char *cudaGetErrorString(int e) { return e == 0 ? "no error" : "fake error"; }
int cudaRuntimeGetVersion(int *v) { *v = 13000; return 0; }
int cudaDriverGetVersion(int *v) { *v = 13000; return 0; }
int cudaSetDevice(int d) { return d < fake_devices() ? 0 : 101; }
int cudaMemGetInfo(size_t *f, size_t *t) { *t = FAKE_TOTAL; *f = FAKE_TOTAL - (512ULL << 20); return 0; }
int cudaMalloc(void **p, size_t n) { *p = malloc(n ? n : 1); return *p ? 0 : 2; }
int cudaFree(void *p) { free(p); return 0; }
int cudaMemcpy(void *d, const void *s, size_t n, int k) { (void)k; memmove(d, s, n); return 0; }
int cudaMemset(void *p, int v, size_t n) { memset(p, v, n); return 0; }
int cudaDeviceSynchronize(void) { return 0; }
int cudaDeviceGetAttribute(int *v, int a, int d) { (void)d; *v = a == 75 ? 9 : a == 76 ? 0 : 0; return 0; }
static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
int cudaEventCreate(void **e) { *e = calloc(1, sizeof(double)); return 0; }
int cudaEventRecord(void *e, void *s) { (void)s; *(double *)e = now_ms(); return 0; }
int cudaEventSynchronize(void *e) { (void)e; return 0; }
int cudaEventElapsedTime(float *ms, void *a, void *b) { *ms = (float)(*(double *)b - *(double *)a); return 0; }
int cudaEventDestroy(void *e) { free(e); return 0; }

/* ---------- cuBLAS ---------- */
static void gemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++) {
      double acc = 0;
      for (int l = 0; l < k; l++) {
        float a = ta ? A[l + (size_t)i * lda] : A[i + (size_t)l * lda];
        float b = tb ? B[j + (size_t)l * ldb] : B[l + (size_t)j * ldb];
        acc += (double)a * b;
      }
      float *c = &C[i + (size_t)j * ldc];
      *c = (float)(alpha * acc + (beta == 0 ? 0 : beta * *c));
    }
}
int cublasCreate_v2(void **h) { *h = malloc(8); return 0; }
int cublasDestroy_v2(void *h) { free(h); return 0; }
int cublasSetMathMode(void *h, int m) { (void)h; return m == 0 ? 0 : 7; }
const char *cublasGetStatusString(int s) { return s == 0 ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_INVALID_VALUE"; }
int cublasSgemm_v2(void *h, int ta, int tb, int m, int n, int k, const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta, float *C, int ldc) {
  (void)h;
  if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return 7;
  gemm(ta, tb, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
  return 0;
}

/* ---------- cuBLASLt ---------- */
typedef struct { int compute, scale, ta, tb; unsigned int epilogue; const float *bias; } LtDesc;
typedef struct { int type; uint64_t rows, cols; int64_t ld; } LtLayout;
int cublasLtCreate(void **h) { *h = malloc(8); return 0; }
int cublasLtDestroy(void *h) { free(h); return 0; }
const char *cublasLtGetStatusString(int s) { return cublasGetStatusString(s); }
int cublasLtMatmulDescCreate(void **d, int compute, int scale) {
  if (compute != 68 || scale != 0) return 15; /* only CUBLAS_COMPUTE_32F with CUDA_R_32F scale */
  LtDesc *x = calloc(1, sizeof *x); x->compute = compute; x->scale = scale; x->epilogue = 1; *d = x; return 0;
}
int cublasLtMatmulDescSetAttribute(void *d, int attr, const void *buf, size_t size) {
  LtDesc *x = d;
  switch (attr) {
    case 3: if (size != 4) return 7; x->ta = *(const int *)buf; return 0;
    case 4: if (size != 4) return 7; x->tb = *(const int *)buf; return 0;
    case 7: if (size != 4) return 7; x->epilogue = *(const unsigned int *)buf; return 0;
    case 8: if (size != 8) return 7; x->bias = *(const float *const *)buf; return 0;
    default: return 7;
  }
}
int cublasLtMatmulDescDestroy(void *d) { free(d); return 0; }
int cublasLtMatrixLayoutCreate(void **l, int type, uint64_t rows, uint64_t cols, int64_t ld) {
  if (type != 0 || ld < (int64_t)rows) return 7;
  LtLayout *x = malloc(sizeof *x); x->type = type; x->rows = rows; x->cols = cols; x->ld = ld; *l = x; return 0;
}
int cublasLtMatrixLayoutDestroy(void *l) { free(l); return 0; }
int cublasLtMatmulPreferenceCreate(void **p) { *p = calloc(1, 8); return 0; }
int cublasLtMatmulPreferenceSetAttribute(void *p, int attr, const void *buf, size_t size) { (void)p; return attr == 1 && size == 8 && buf ? 0 : 7; }
int cublasLtMatmulPreferenceDestroy(void *p) { free(p); return 0; }
int cublasLtMatmulAlgoGetHeuristic(void *h, void *d, void *a, void *b, void *c, void *dd, void *p, int req, void *results, int *returned) {
  (void)h; (void)d; (void)a; (void)b; (void)c; (void)dd; (void)p;
  if (req < 1) return 7;
  memset(results, 0, 96); memcpy(results, "fakealgo", 8); *(uint64_t *)((char *)results + 64) = 1024; *(int *)((char *)results + 72) = 0;
  *returned = 1; return 0;
}
int cublasLtMatmul(void *h, void *desc, const void *alpha, const void *A, void *Ad, const void *B, void *Bd, const void *beta,
                   const void *C, void *Cd, void *D, void *Dd, const void *algo, void *ws, size_t wsSize, void *stream) {
  (void)h; (void)C; (void)Cd; (void)ws; (void)stream;
  LtDesc *x = desc; LtLayout *a = Ad, *b = Bd, *d = Dd;
  if (!algo || memcmp(algo, "fakealgo", 8) != 0 || wsSize < 1024) return 7;
  int m = (int)d->rows, n = (int)d->cols, k = (int)(x->ta ? a->rows : a->cols);
  if ((int)(x->ta ? a->cols : a->rows) != m || (int)(x->tb ? b->rows : b->cols) != n || (int)(x->tb ? b->cols : b->rows) != k) return 7;
  gemm(x->ta, x->tb, m, n, k, *(const float *)alpha, A, (int)a->ld, B, (int)b->ld, *(const float *)beta, D, (int)d->ld);
  float *out = D;
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++) {
      float *v = &out[i + (size_t)j * d->ld];
      if (x->epilogue & 4) { if (!x->bias) return 7; *v += x->bias[i]; }
      if ((x->epilogue & 2) && *v < 0) *v = 0;
    }
  return 0;
}

/* ---------- NVRTC ---------- */
typedef struct { int compiled; char arch[64]; } Prog;
int nvrtcVersion(int *ma, int *mi) { *ma = 13; *mi = 0; return 0; }
const char *nvrtcGetErrorString(int r) { return r == 0 ? "NVRTC_SUCCESS" : "NVRTC_ERROR_COMPILATION"; }
int nvrtcCreateProgram(void **p, const char *src, const char *name, int nh, void *h, void *in) {
  (void)name; (void)nh; (void)h; (void)in;
  if (!strstr(src, "gpuflow_bias_act")) return 6;
  *p = calloc(1, sizeof(Prog)); return 0;
}
int nvrtcCompileProgram(void *p, int n, const char **opts) {
  Prog *x = p;
  for (int i = 0; i < n; i++) if (!strncmp(opts[i], "--gpu-architecture=", 19)) snprintf(x->arch, sizeof x->arch, "%s", opts[i] + 19);
  if (!x->arch[0]) return 6;
  x->compiled = 1; return 0;
}
int nvrtcGetProgramLogSize(void *p, size_t *n) { (void)p; *n = 1; return 0; }
int nvrtcGetProgramLog(void *p, char *log) { (void)p; log[0] = 0; return 0; }
int nvrtcGetCUBINSize(void *p, size_t *n) { *n = 9 + strlen(((Prog *)p)->arch); return 0; }
int nvrtcGetCUBIN(void *p, char *out) { memcpy(out, "FAKECUBIN", 9); memcpy(out + 9, ((Prog *)p)->arch, strlen(((Prog *)p)->arch)); return 0; }
int nvrtcGetPTXSize(void *p, size_t *n) { (void)p; *n = 8; return 0; }
int nvrtcGetPTX(void *p, char *out) { (void)p; memcpy(out, "FAKEPTX", 8); return 0; }
int nvrtcDestroyProgram(void **p) { free(*p); *p = NULL; return 0; }

/* ---------- CUDA driver ---------- */
int cuInit(unsigned int f) { (void)f; return 0; }
int cuModuleLoadData(void **m, const void *image) { if (memcmp(image, "FAKECUBIN", 9) && memcmp(image, "FAKEPTX", 7)) return 200; *m = malloc(8); return 0; }
int cuModuleGetFunction(void **f, void *m, const char *name) { (void)m; if (strcmp(name, "gpuflow_bias_act")) return 500; *f = (void *)0x42; return 0; }
int cuModuleUnload(void *m) { free(m); return 0; }
int cuGetErrorString(int e, const char **s) { *s = e == 0 ? "CUDA_SUCCESS" : "CUDA_ERROR_FAKE"; return 0; }
int cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned sh, void *stream, void **params, void **extra) {
  (void)gy; (void)gz; (void)by; (void)bz; (void)sh; (void)stream; (void)extra;
  if (f != (void *)0x42 || !params) return 1;
  float *y = *(float **)params[0];
  const float *bias = *(const float **)params[1];
  unsigned features = *(unsigned *)params[2];
  unsigned long long total = *(unsigned long long *)params[3];
  int relu = *(int *)params[4];
  if ((unsigned long long)gx * bx < total) return 1;
  for (unsigned long long i = 0; i < total; i++) { float v = y[i] + bias[i % features]; y[i] = (relu && v < 0) ? 0 : v; }
  return 0;
}

typedef struct { unsigned int version; unsigned long long total, reserved, free, used; } nvmlMemory_v2_t;
int nvmlDeviceGetMemoryInfo_v2(void *h, nvmlMemory_v2_t *m) {
  (void)h;
  if (m->version != (40u | (2u << 24))) return 25; /* NVML_ERROR_ARGUMENT_VERSION_MISMATCH */
  m->total = FAKE_TOTAL; m->reserved = 0; m->used = 512ULL << 20; m->free = m->total - m->used; return 0;
}
