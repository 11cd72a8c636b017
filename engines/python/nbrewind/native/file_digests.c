/*
 * The stat and sha256 of many files at once, in C (nbrewind/native_hook.py builds it).
 *
 * When a kernel records a cell's reads it stats every file it has not seen and
 * hashes it. For small files that is syscalls, not hashing: in Python a stat
 * and an open/read/close/sha256 cost ~10 us a file, as much as the cell spent
 * reading it (bench/README.md, "bench:files", first sight). Here one open, an
 * fstat of that descriptor (no second path lookup) and the reads run without
 * the GIL, split over the machine's cores, and return as one list. Python
 * keeps every decision (which files, what a stat means, the digest cache);
 * this file only does the syscalls and the hash.
 *
 * SHA-256 (FIPS 180-4) is written out below rather than linked: the kernel's
 * Python may come without OpenSSL's headers. It is only asked for files up to
 * a limit the caller sets; larger ones go to hashlib (OpenSSL, faster per
 * byte), where the hash and not the syscalls is the cost.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ SHA-256 */

typedef struct {
    uint32_t h[8];
    uint64_t length; /* bytes hashed so far */
    unsigned char block[64];
    size_t used; /* bytes waiting in block */
} Sha256;

/* The first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_init(Sha256 *s) {
    /* The first 32 bits of the fractional parts of the square roots of the first 8 primes. */
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, H0, sizeof H0);
    s->length = 0;
    s->used = 0;
}

static void sha256_block(Sha256 *s, const unsigned char *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
    s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static void sha256_update(Sha256 *s, const unsigned char *p, size_t n) {
    s->length += n;
    if (s->used) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;
        memcpy(s->block + s->used, p, take);
        s->used += take;
        p += take;
        n -= take;
        if (s->used < 64) return;
        sha256_block(s, s->block);
        s->used = 0;
    }
    for (; n >= 64; p += 64, n -= 64) sha256_block(s, p);
    memcpy(s->block, p, n);
    s->used = n;
}

static void sha256_hex(Sha256 *s, char out[65]) {
    uint64_t bits = s->length * 8;
    unsigned char pad[72] = {0x80};
    size_t padding = (s->used < 56 ? 56 : 120) - s->used;
    for (int i = 0; i < 8; i++) pad[padding + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_update(s, pad, padding + 8);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        unsigned char byte = (unsigned char)(s->h[i / 4] >> (24 - 8 * (i % 4)));
        out[2 * i] = hex[byte >> 4];
        out[2 * i + 1] = hex[byte & 15];
    }
    out[64] = 0;
}

/* ------------------------------------------------------------------ the batch */

typedef struct {
    const char *path;
    int ok;         /* the stat is there */
    int hashed;     /* and the digest */
    struct stat st;
    char hex[65];
} Item;

typedef struct {
    Item *items;
    Py_ssize_t start, step, count;
    long long hash_limit; /* hash regular files up to this size; < 0: stat only */
} Slice;

static void probe_one(Item *it, long long hash_limit) {
    if (hash_limit < 0) {
        it->ok = stat(it->path, &it->st) == 0;
        return;
    }
    /* O_NONBLOCK: a named pipe must not wait for a writer (it is no regular file: not hashed). */
    int fd = open(it->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        /* Not readable (permissions) but there: its stat still says what it is. */
        it->ok = stat(it->path, &it->st) == 0;
        return;
    }
    if (fstat(fd, &it->st) != 0) {
        close(fd);
        return;
    }
    it->ok = 1;
    if (S_ISREG(it->st.st_mode) && (long long)it->st.st_size <= hash_limit) {
        Sha256 s;
        sha256_init(&s);
        unsigned char buf[65536];
        for (;;) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) break;
            if (n == 0) {
                sha256_hex(&s, it->hex);
                it->hashed = 1;
                break;
            }
            sha256_update(&s, buf, (size_t)n);
        }
    }
    close(fd);
}

static void *run_slice(void *arg) {
    Slice *sl = (Slice *)arg;
    for (Py_ssize_t i = sl->start; i < sl->count; i += sl->step) probe_one(&sl->items[i], sl->hash_limit);
    return NULL;
}

/* Below this many files a thread costs more than it saves. */
#define PER_THREAD 256
#define MAX_THREADS 4

static void run_all(Item *items, Py_ssize_t n, long long hash_limit) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long threads = (long)(n / PER_THREAD);
    if (threads > cpus) threads = cpus;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if (threads < 1) threads = 1;
    Slice slices[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    /* Interleaved (i, i+threads, ...): the files of one folder, adjacent in a sorted list,
       are spread over the threads rather than one thread taking a slow folder. */
    for (long t = 0; t < threads; t++) slices[t] = (Slice){items, t, threads, n, hash_limit};
    for (long t = 1; t < threads; t++) started[t] = pthread_create(&ids[t], NULL, run_slice, &slices[t]) == 0;
    run_slice(&slices[0]);
    for (long t = 1; t < threads; t++) {
        if (started[t]) pthread_join(ids[t], NULL);
        else run_slice(&slices[t]); /* no thread to be had: this one does its share */
    }
}

static PyObject *probe_many(PyObject *self, PyObject *const *argv, Py_ssize_t argc) {
    (void)self;
    if (argc != 2 || !PyList_Check(argv[0]) || !PyLong_Check(argv[1])) {
        PyErr_SetString(PyExc_TypeError, "probe_many(paths: list[str], hash_limit: int)");
        return NULL;
    }
    PyObject *paths = argv[0];
    long long hash_limit = PyLong_AsLongLong(argv[1]);
    if (hash_limit == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(paths);
    /* The paths' bytes, kept alive while the threads read them. */
    PyObject *keep = PyList_New(n);
    if (keep == NULL) return NULL;
    Item *items = PyMem_RawCalloc(n ? (size_t)n : 1, sizeof(Item));
    if (items == NULL) {
        Py_DECREF(keep);
        return PyErr_NoMemory();
    }
    PyObject *out = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *encoded = PyUnicode_EncodeFSDefault(PyList_GET_ITEM(paths, i));
        if (encoded == NULL) goto done;
        PyList_SET_ITEM(keep, i, encoded);
        items[i].path = PyBytes_AS_STRING(encoded);
        if ((Py_ssize_t)strlen(items[i].path) != PyBytes_GET_SIZE(encoded)) items[i].path = ""; /* an embedded NUL: no such file */
    }
    Py_BEGIN_ALLOW_THREADS
    run_all(items, n, hash_limit);
    Py_END_ALLOW_THREADS
    out = PyList_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        Item *it = &items[i];
        PyObject *value;
        if (!it->ok) {
            Py_INCREF(Py_None);
            value = Py_None;
        } else {
            long long mtime = (long long)it->st.st_mtim.tv_sec * 1000000000LL + it->st.st_mtim.tv_nsec;
            long long ctime = (long long)it->st.st_ctim.tv_sec * 1000000000LL + it->st.st_ctim.tv_nsec;
            value = Py_BuildValue("(KLLLKIKs)", (unsigned long long)it->st.st_ino, (long long)it->st.st_size, mtime, ctime,
                                  (unsigned long long)it->st.st_dev, (unsigned int)it->st.st_mode,
                                  (unsigned long long)it->st.st_nlink, it->hashed ? it->hex : NULL);
        }
        if (value == NULL) Py_CLEAR(out);
        else PyList_SET_ITEM(out, i, value);
    }
done:
    PyMem_RawFree(items);
    Py_DECREF(keep);
    return out;
}

static PyMethodDef methods[] = {
    {"probe_many", (PyCFunction)(void (*)(void))probe_many, METH_FASTCALL,
     "probe_many(paths, hash_limit) -> [(ino, size, mtime_ns, ctime_ns, dev, mode, nlink, sha256 hex or None) or None]:\n"
     "each path's stat (links followed) and, for a regular file of at most hash_limit bytes, the sha256 of the\n"
     "content read through the same descriptor. hash_limit < 0: the stat only. None: no such file."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_nbrewind_files", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__nbrewind_files(void) { return PyModule_Create(&module); }
