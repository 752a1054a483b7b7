/* JSON arrays of numbers into doubles: the compiled core of schemas/json_floats.py.
 *
 * parse(joined, bounds, table, values, counts, offsets): the arrays are
 * joined[bounds[k]:bounds[k+1]]; array k's numbers go to values[offsets[k]:],
 * counts[k] is how many, or -1 when the array is declined (see the Python
 * module's docstring). `table` holds the (high, low) 64-bit words of the
 * 128-bit truncated powers of five for exponents Q_MIN..Q_MAX.
 *
 * Every double is the correctly rounded value of its text (Clinger's fast
 * path, else Eisel-Lemire); compiled without floating-point contraction so
 * that the fast path's one multiplication or division is exactly that.
 */
#define _GNU_SOURCE /* memmem */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the eight-digit reads assume a little-endian machine"
#endif

#define Q_MIN (-60)
#define Q_MAX 60

static const double P10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Eisel-Lemire: the bits of w * 10^q (w > 0, q in [Q_MIN, Q_MAX]); 0 when undecided. */
static int to_bits(uint64_t w, int q, int negative, const uint64_t *table, uint64_t *out) {
    int lz = __builtin_clzll(w);
    w <<= lz;
    int index = q - Q_MIN;
    __uint128_t p = (__uint128_t)w * table[2 * index];
    uint64_t hi = (uint64_t)(p >> 64), lo = (uint64_t)p;
    const uint64_t precision_mask = UINT64_C(0xFFFFFFFFFFFFFFFF) >> 55;
    if ((hi & precision_mask) == precision_mask) {
        __uint128_t p2 = (__uint128_t)w * table[2 * index + 1];
        uint64_t hi2 = (uint64_t)(p2 >> 64);
        lo += hi2;
        if (hi2 > lo) hi++;
    }
    if (lo == UINT64_C(0xFFFFFFFFFFFFFFFF) && (q < -27 || q > 55)) return 0;
    int upperbit = (int)(hi >> 63);
    int shift = upperbit + 9;
    uint64_t mantissa = hi >> shift;
    int64_t power2 = ((((int64_t)152170 + 65536) * q) >> 16) + 63 + upperbit - lz + 1023;
    if (power2 <= 0) return 0; /* subnormal */
    if (lo <= 1 && q >= -4 && q <= 23 && (mantissa & 3) == 1 && (mantissa << shift) == hi)
        mantissa &= ~UINT64_C(1); /* exactly halfway: round to even */
    mantissa += mantissa & 1;
    mantissa >>= 1;
    if (mantissa >= (UINT64_C(2) << 52)) {
        mantissa = UINT64_C(1) << 52;
        power2++;
    }
    mantissa &= ~(UINT64_C(1) << 52);
    if (power2 >= 0x7FF) return 0; /* overflow */
    *out = mantissa | ((uint64_t)power2 << 52) | ((uint64_t)(negative != 0) << 63);
    return 1;
}

/* Eight ASCII digits at once (fast_float's SWAR): are they all digits, and their value. */
static inline int eight_digits(uint64_t v) {
    return !(((v + UINT64_C(0x4646464646464646)) | (v - UINT64_C(0x3030303030303030))) &
             UINT64_C(0x8080808080808080));
}
static inline uint64_t eight_digits_value(uint64_t v) {
    const uint64_t mask = UINT64_C(0x000000FF000000FF);
    const uint64_t mul1 = UINT64_C(0x000F424000000064); /* 100 + (1000000 << 32) */
    const uint64_t mul2 = UINT64_C(0x0000271000000001); /* 1 + (10000 << 32) */
    v -= UINT64_C(0x3030303030303030);
    v = (v * 10) + (v >> 8);
    v = (((v & mask) * mul1) + (((v >> 16) & mask) * mul2)) >> 32;
    return v & UINT64_C(0xFFFFFFFF);
}

static inline int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static inline int is_digit(unsigned char c) { return (unsigned)(c - '0') < 10; }

/* One array s[0:n]: its length, or -1 (declined). */
static int64_t parse_array(const unsigned char *s, Py_ssize_t n, double *out, Py_ssize_t room,
                           const uint64_t *table) {
    Py_ssize_t i = 0;
    int64_t count = 0;
    while (i < n && is_space(s[i])) i++;
    if (i >= n || s[i] != '[') return -1;
    i++;
    while (i < n && is_space(s[i])) i++;
    if (i < n && s[i] == ']') {
        i++;
        while (i < n && is_space(s[i])) i++;
        return i == n ? 0 : -1;
    }
    for (;;) {
        /* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
        int negative = 0;
        if (i < n && s[i] == '-') {
            negative = 1;
            i++;
        }
        if (i >= n) return -1;
        uint64_t w = 0;
        int digits = 0, q = 0, integer = 1; /* integer: no fraction, no exponent */
        if (s[i] == '0') {
            i++;
        } else if (is_digit(s[i])) {
            while (i < n && is_digit(s[i])) {
                if (digits >= 19) return -1;
                w = w * 10 + (uint64_t)(s[i] - '0');
                digits++;
                i++;
            }
        } else {
            return -1;
        }
        if (i < n && s[i] == '.') {
            integer = 0;
            i++;
            Py_ssize_t first = i;
            /* Past the leading zeros, eight digits at a time while they fit in w. */
            for (;;) {
                uint64_t v;
                if (digits == 0 || digits > 11 || i + 8 > n) break;
                memcpy(&v, s + i, 8); /* little-endian: s[i] is the low byte */
                if (!eight_digits(v)) break;
                w = w * 100000000 + eight_digits_value(v);
                digits += 8;
                q -= 8;
                i += 8;
            }
            while (i < n && is_digit(s[i])) {
                unsigned d = s[i] - '0';
                if (digits > 0 || d != 0) {
                    if (digits >= 19) return -1;
                    w = w * 10 + d;
                    digits++;
                }
                q--;
                i++;
                if (q < -400) return -1; /* only zeros so far: far below any exponent taken */
            }
            if (i == first) return -1;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
            integer = 0;
            i++;
            int eneg = 0;
            if (i < n && (s[i] == '+' || s[i] == '-')) {
                eneg = s[i] == '-';
                i++;
            }
            Py_ssize_t first = i;
            int e = 0;
            while (i < n && is_digit(s[i])) {
                if (i - first >= 4) return -1;
                e = e * 10 + (s[i] - '0');
                i++;
            }
            if (i == first) return -1;
            q += eneg ? -e : e;
        }
        if (count >= room) return -1;
        if (w == 0) {
            /* msgspec reads the integer -0 as the int 0, so +0.0; -0.0 and -0e0 as -0.0 */
            out[count] = negative && !integer ? -0.0 : 0.0;
        } else if (w <= (UINT64_C(1) << 53) && q >= -22 && q <= 22) {
            double x = (double)w;
            x = q >= 0 ? x * P10[q] : x / P10[-q];
            out[count] = negative ? -x : x;
        } else {
            uint64_t bits;
            if (q < Q_MIN || q > Q_MAX || !to_bits(w, q, negative, table, &bits)) return -1;
            memcpy(&out[count], &bits, sizeof bits);
        }
        count++;
        while (i < n && is_space(s[i])) i++;
        if (i >= n) return -1;
        if (s[i] == ',') {
            i++;
            while (i < n && is_space(s[i])) i++;
            continue;
        }
        if (s[i] == ']') {
            i++;
            while (i < n && is_space(s[i])) i++;
            return i == n ? count : -1;
        }
        return -1;
    }
}

static PyObject *parse(PyObject *self, PyObject *args) {
    Py_buffer joined, bounds, table, values, counts, offsets;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*w*w*w*", &joined, &bounds, &table, &values, &counts,
                          &offsets))
        return NULL;
    Py_ssize_t arrays = counts.len / (Py_ssize_t)sizeof(int64_t);
    int ok = bounds.len == (arrays + 1) * (Py_ssize_t)sizeof(int64_t) &&
             offsets.len == counts.len &&
             table.len == 2 * (Q_MAX - Q_MIN + 1) * (Py_ssize_t)sizeof(uint64_t);
    if (ok) {
        const unsigned char *buf = joined.buf;
        const int64_t *b = bounds.buf;
        double *out = values.buf;
        int64_t *cnt = counts.buf, *off = offsets.buf;
        Py_ssize_t room = values.len / (Py_ssize_t)sizeof(double), at = 0;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t k = 0; k < arrays; k++) {
            int64_t lo = b[k], hi = b[k + 1];
            if (lo < 0 || hi < lo || hi > joined.len) {
                cnt[k] = -1;
                off[k] = at;
                continue;
            }
            int64_t c = parse_array(buf + lo, hi - lo, out + at, room - at, table.buf);
            cnt[k] = c;
            off[k] = at;
            if (c > 0) at += c;
        }
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&joined);
    PyBuffer_Release(&bounds);
    PyBuffer_Release(&table);
    PyBuffer_Release(&values);
    PyBuffer_Release(&counts);
    PyBuffer_Release(&offsets);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "parse: buffer sizes do not match");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* keys_once(data, key, ...): no backslash anywhere in data, and each key found exactly once. */
static PyObject *keys_once(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    Py_buffer data;
    int ok = 1;
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "keys_once(data, key, ...)");
        return NULL;
    }
    if (PyObject_GetBuffer(PyTuple_GET_ITEM(args, 0), &data, PyBUF_SIMPLE) < 0) return NULL;
    const char *buf = data.buf;
    size_t len = (size_t)data.len;
    if (memchr(buf, '\\', len) != NULL) ok = 0;
    for (Py_ssize_t k = 1; ok && k < nargs; k++) {
        char *key;
        Py_ssize_t key_len;
        if (PyBytes_AsStringAndSize(PyTuple_GET_ITEM(args, k), &key, &key_len) < 0) {
            PyBuffer_Release(&data);
            return NULL;
        }
        const char *first = memmem(buf, len, key, (size_t)key_len);
        if (first == NULL) {
            ok = 0;
            break;
        }
        size_t after = (size_t)(first - buf) + 1;
        if (memmem(buf + after, len - after, key, (size_t)key_len) != NULL) ok = 0;
    }
    PyBuffer_Release(&data);
    return PyBool_FromLong(ok);
}

static PyMethodDef methods[] = {
    {"keys_once", keys_once, METH_VARARGS,
     "No backslash in data, and each key (bytes) found exactly once."},
    {"parse", parse, METH_VARARGS, "Parse JSON arrays of numbers into doubles (see the module)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_json_floats",
                                    "JSON arrays of numbers into doubles.", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__json_floats(void) { return PyModule_Create(&module); }
