/* JSON numbers into doubles, compiled: the core of schemas/json_floats.py (arrays of
 * numbers) and of schemas/json_columns.py (whole PackSample payloads into columns,
 * decode() below, which shares the number parser).
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
static inline Py_ssize_t skip_space(const unsigned char *s, Py_ssize_t n, Py_ssize_t i) {
    while (i < n && is_space(s[i])) i++;
    return i;
}
static inline int is_digit(unsigned char c) { return (unsigned)(c - '0') < 10; }

/* One JSON number at s[*pi] (*pi moves past it) into *out; 0 when declined. */
static int parse_number(const unsigned char *s, Py_ssize_t n, Py_ssize_t *pi,
                        const uint64_t *table, double *out) {
    /* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
    Py_ssize_t i = *pi;
    int negative = 0;
    if (i < n && s[i] == '-') {
        negative = 1;
        i++;
    }
    if (i >= n) return 0;
    uint64_t w = 0;
    int digits = 0, q = 0, integer = 1; /* integer: no fraction, no exponent */
    if (s[i] == '0') {
        i++;
    } else if (is_digit(s[i])) {
        while (i < n && is_digit(s[i])) {
            if (digits >= 19) return 0;
            w = w * 10 + (uint64_t)(s[i] - '0');
            digits++;
            i++;
        }
    } else {
        return 0;
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
                if (digits >= 19) return 0;
                w = w * 10 + d;
                digits++;
            }
            q--;
            i++;
            if (q < -400) return 0; /* only zeros so far: far below any exponent taken */
        }
        if (i == first) return 0;
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
            if (i - first >= 4) return 0;
            e = e * 10 + (s[i] - '0');
            i++;
        }
        if (i == first) return 0;
        q += eneg ? -e : e;
    }
    if (w == 0) {
        /* msgspec reads the integer -0 as the int 0, so +0.0; -0.0 and -0e0 as -0.0 */
        *out = negative && !integer ? -0.0 : 0.0;
    } else if (w <= (UINT64_C(1) << 53) && q >= -22 && q <= 22) {
        double x = (double)w;
        x = q >= 0 ? x * P10[q] : x / P10[-q];
        *out = negative ? -x : x;
    } else {
        uint64_t bits;
        if (q < Q_MIN || q > Q_MAX || !to_bits(w, q, negative, table, &bits)) return 0;
        memcpy(out, &bits, sizeof bits);
    }
    *pi = i;
    return 1;
}

/* The array of numbers at s[*pi] ('[' … ']'; *pi moves past it): its length, or -1. */
static int64_t parse_array_at(const unsigned char *s, Py_ssize_t n, Py_ssize_t *pi, double *out,
                              Py_ssize_t room, const uint64_t *table) {
    Py_ssize_t i = *pi;
    int64_t count = 0;
    if (i >= n || s[i] != '[') return -1;
    i = skip_space(s, n, i + 1);
    if (i < n && s[i] == ']') {
        *pi = i + 1;
        return 0;
    }
    for (;;) {
        if (count >= room) return -1;
        if (!parse_number(s, n, &i, table, &out[count])) return -1;
        count++;
        i = skip_space(s, n, i);
        if (i < n && s[i] == ',') {
            i = skip_space(s, n, i + 1);
        } else if (i < n && s[i] == ']') {
            *pi = i + 1;
            return count;
        } else {
            return -1;
        }
    }
}

/* One array s[0:n] (nothing else but whitespace): its length, or -1 (declined). */
static int64_t parse_array(const unsigned char *s, Py_ssize_t n, double *out, Py_ssize_t room,
                           const uint64_t *table) {
    Py_ssize_t i = skip_space(s, n, 0);
    int64_t count = parse_array_at(s, n, &i, out, room, table);
    if (count < 0) return -1;
    return skip_space(s, n, i) == n ? count : -1;
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

/* ---- Whole payloads into columns (schemas/json_columns.py) ----------------------------
 *
 * fields(spec): the object's keys, each (name, kind, slot, nullable, required, default,
 * enum mask), checked and held in a capsule. decode(fields, payloads, table, floats,
 * ints, times, values, counts, offsets, ok) reads each payload, a JSON object of those
 * keys, into row k of
 * the column buffers (floats: NaN for null; ints: -1 for null, or the default; times:
 * microseconds since 1970 UTC, INT64_MIN for null; arrays of numbers as parse() does)
 * and returns (texts, int_lists): per text slot and per int-list slot, a list with
 * one entry per payload. A key that is no field is passed over with its value, as
 * the contract ignores it (v1 may gain optional fields). ok[k] is 0 when the payload
 * is declined: anything this reader does not take for certain (a repeated key, an
 * escape or a non-ASCII byte in a string, a naive or unusual timestamp, a negative or
 * fractional integer, an int that is no member of its enum, a number parse() declines,
 * an unknown key's value nested deeper than MAX_SKIP_DEPTH, a syntax error) is left to
 * the exact decoder.
 */
enum { K_FLOAT = 1, K_INT = 2, K_ENUM = 3, K_STR = 4, K_TIME = 5, K_ARRAY = 6, K_INTLIST = 7 };
enum { N_KINDS = K_INTLIST + 1 };
#define MAX_FIELDS 48
#define MAX_KEY 40
#define MAX_SLOTS 8

typedef struct {
    char name[MAX_KEY];
    Py_ssize_t len;
    int kind, slot, nullable, required;
    int64_t dflt;
    uint64_t mask;
} FieldSpec;

/* The keys of one kind of object: what fields() checks and decode() reads by. */
typedef struct {
    FieldSpec f[MAX_FIELDS];
    int n;
    int slots[N_KINDS]; /* per kind: slots in use */
} Spec;

#define SPEC_CAPSULE "packwatch._json_floats.fields"

static void free_spec(PyObject *capsule) {
    PyMem_Free(PyCapsule_GetPointer(capsule, SPEC_CAPSULE));
}

static PyObject *fields(PyObject *self, PyObject *args) {
    PyObject *spec;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &spec)) return NULL;
    Py_ssize_t m = PyList_GET_SIZE(spec);
    if (m == 0 || m > MAX_FIELDS) {
        PyErr_Format(PyExc_ValueError, "fields: between 1 and %d fields", MAX_FIELDS);
        return NULL;
    }
    Spec new_spec = {.n = (int)m};
    for (Py_ssize_t k = 0; k < m; k++) {
        const char *name;
        Py_ssize_t len;
        FieldSpec f;
        unsigned long long mask;
        long long dflt;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(spec, k), "y#iiiiLK", &name, &len, &f.kind, &f.slot,
                              &f.nullable, &f.required, &dflt, &mask))
            return NULL;
        if (len <= 0 || len >= MAX_KEY || f.kind < K_FLOAT || f.kind > K_INTLIST || f.slot < 0 ||
            f.slot >= MAX_FIELDS || (f.kind == K_ENUM && mask == 0) ||
            ((f.kind == K_STR || f.kind == K_INTLIST) && f.slot >= MAX_SLOTS)) {
            PyErr_SetString(PyExc_ValueError, "fields: bad field");
            return NULL;
        }
        memcpy(f.name, name, (size_t)len);
        f.len = len;
        f.dflt = dflt;
        f.mask = mask;
        new_spec.f[k] = f;
        if (f.slot + 1 > new_spec.slots[f.kind]) new_spec.slots[f.kind] = f.slot + 1;
    }
    Spec *held = PyMem_Malloc(sizeof(Spec));
    if (held == NULL) return PyErr_NoMemory();
    *held = new_spec;
    PyObject *capsule = PyCapsule_New(held, SPEC_CAPSULE, free_spec);
    if (capsule == NULL) PyMem_Free(held);
    return capsule;
}

/* A non-negative JSON integer (no fraction, no exponent) up to INT64_MAX; 0 when declined. */
static int parse_uint(const unsigned char *s, Py_ssize_t n, Py_ssize_t *pi, int64_t *out) {
    Py_ssize_t i = *pi;
    uint64_t w = 0;
    if (i >= n || !is_digit(s[i])) return 0;
    if (s[i] == '0') {
        i++;
    } else {
        int digits = 0;
        while (i < n && is_digit(s[i])) {
            if (++digits > 19) return 0;
            w = w * 10 + (uint64_t)(s[i] - '0');
            i++;
        }
        if (digits == 19 && w > (uint64_t)INT64_MAX) return 0; /* 19 digits fit in uint64 */
    }
    if (i < n && (s[i] == '.' || s[i] == 'e' || s[i] == 'E' || is_digit(s[i]))) return 0;
    *out = (int64_t)w;
    *pi = i;
    return 1;
}

/* A string without escapes, control characters or non-ASCII bytes: s[*start:*end]. */
static int scan_string(const unsigned char *s, Py_ssize_t n, Py_ssize_t *pi, Py_ssize_t *start,
                       Py_ssize_t *end) {
    Py_ssize_t i = *pi;
    if (i >= n || s[i] != '"') return 0;
    i++;
    *start = i;
    while (i < n && s[i] != '"') {
        unsigned char c = s[i];
        if (c == '\\' || c < 0x20 || c >= 0x80) return 0;
        i++;
    }
    if (i >= n) return 0;
    *end = i;
    *pi = i + 1;
    return 1;
}

static inline int two_digits(const unsigned char *s, int *out) {
    if (!is_digit(s[0]) || !is_digit(s[1])) return 0;
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return 1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM)" inside s[a:b]: microseconds since 1970 UTC. */
static int parse_time(const unsigned char *s, Py_ssize_t a, Py_ssize_t b, int64_t *out) {
    static const int DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const unsigned char *t = s + a;
    Py_ssize_t n = b - a, i = 19;
    int c1, c2, mo, d, h, mi, sec;
    if (n < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':')
        return 0;
    if (!two_digits(t, &c1) || !two_digits(t + 2, &c2) || !two_digits(t + 5, &mo) ||
        !two_digits(t + 8, &d) || !two_digits(t + 11, &h) || !two_digits(t + 14, &mi) ||
        !two_digits(t + 17, &sec))
        return 0;
    int y = c1 * 100 + c2;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > DAYS[mo - 1] + (mo == 2 && leap) || h > 23 ||
        mi > 59 || sec > 59)
        return 0;
    int64_t us = 0;
    if (t[i] == '.') {
        int digits = 0;
        i++;
        while (i < n && is_digit(t[i])) {
            if (++digits > 6) return 0;
            us = us * 10 + (t[i] - '0');
            i++;
        }
        if (digits == 0) return 0;
        while (digits++ < 6) us *= 10;
    }
    int64_t offset_s = 0;
    if (i + 1 == n && t[i] == 'Z') {
        i++;
    } else if (i + 6 == n && (t[i] == '+' || t[i] == '-') && t[i + 3] == ':') {
        int oh, om;
        if (!two_digits(t + i + 1, &oh) || !two_digits(t + i + 4, &om) || oh > 23 || om > 59)
            return 0;
        offset_s = (oh * 3600 + om * 60) * (t[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return 0;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    *out = secs * 1000000 + us;
    return 1;
}

static inline int matches(const FieldSpec *f, const unsigned char *key, Py_ssize_t len) {
    return f->len == len && memcmp(f->name, key, (size_t)len) == 0;
}

/* The field of key s[a:b], or -1. Keys usually come in the contract's order: the one
 * after the previous key (`next`) is tried first. */
static int find_field(const Spec *S, const unsigned char *s, Py_ssize_t a, Py_ssize_t b,
                      int next) {
    if (next < S->n && matches(&S->f[next], s + a, b - a)) return next;
    for (int j = 0; j < S->n; j++)
        if (matches(&S->f[j], s + a, b - a)) return j;
    return -1;
}

/* Field F's value where the payload has none: `absent` (its default) or null (None).
 * 1 when set, 0 when declined, -1 on a Python error. */
static int set_empty(const FieldSpec *F, int absent, double *fl, int64_t *in, int64_t *tm,
                     PyObject **texts, PyObject **lists) {
    switch (F->kind) {
    case K_FLOAT: fl[F->slot] = Py_NAN; return 1;
    case K_INT:
    case K_ENUM: in[F->slot] = absent ? F->dflt : -1; return 1;
    case K_TIME: tm[F->slot] = INT64_MIN; return 1;
    case K_STR:
        Py_INCREF(Py_None);
        Py_XSETREF(texts[F->slot], Py_None);
        return 1;
    case K_INTLIST: {
        if (!absent) return 0; /* no null list */
        PyObject *list = PyList_New(0);
        if (list == NULL) return -1;
        Py_XSETREF(lists[F->slot], list);
        return 1;
    }
    default: return 0; /* an array is required */
    }
}

/* A JSON array of non-negative integers at s[*pi] into a new list *out; 1, 0 or -1. */
static int parse_int_list(const unsigned char *s, Py_ssize_t n, Py_ssize_t *pi,
                          PyObject **out) {
    Py_ssize_t i = *pi;
    if (i >= n || s[i] != '[') return 0;
    PyObject *list = PyList_New(0);
    if (list == NULL) return -1;
    Py_XSETREF(*out, list);
    i = skip_space(s, n, i + 1);
    if (i < n && s[i] == ']') {
        *pi = i + 1;
        return 1;
    }
    for (;;) {
        int64_t v;
        if (!parse_uint(s, n, &i, &v)) return 0;
        PyObject *item = PyLong_FromLongLong(v);
        if (item == NULL) return -1;
        int failed = PyList_Append(list, item);
        Py_DECREF(item);
        if (failed) return -1;
        i = skip_space(s, n, i);
        if (i < n && s[i] == ',') {
            i = skip_space(s, n, i + 1);
        } else if (i < n && s[i] == ']') {
            *pi = i + 1;
            return 1;
        } else {
            return 0;
        }
    }
}

/* Past one digit run at s[*pi] (at least one digit); 0 when there is none. */
static int skip_digits(const unsigned char *s, Py_ssize_t n, Py_ssize_t *pi) {
    Py_ssize_t i = *pi;
    if (i >= n || !is_digit(s[i])) return 0;
    while (i < n && is_digit(s[i])) i++;
    *pi = i;
    return 1;
}

#define MAX_SKIP_DEPTH 32

/* Past one JSON value at s[*pi] that the contract has no field for; 0 when declined.
 * Strict JSON (RFC 8259) and nothing more, so a value msgspec would refuse is never
 * passed over: numbers by the grammar alone (msgspec skips them unconverted, so 1e999
 * and 400-digit integers pass), strings as scan_string takes them (no escapes, no
 * non-ASCII), and up to MAX_SKIP_DEPTH arrays or objects one in another (deeper is left
 * to msgspec). */
static int skip_value(const unsigned char *s, Py_ssize_t n, Py_ssize_t *pi, int depth) {
    Py_ssize_t i = *pi, a, b;
    if (i >= n) return 0;
    unsigned char c = s[i];
    if (c == '"') {
        if (!scan_string(s, n, &i, &a, &b)) return 0;
    } else if (c == '-' || is_digit(c)) {
        if (c == '-') i++;
        if (i < n && s[i] == '0') {
            i++;
        } else if (!skip_digits(s, n, &i)) {
            return 0;
        }
        if (i < n && s[i] == '.') {
            i++;
            if (!skip_digits(s, n, &i)) return 0;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
            i++;
            if (i < n && (s[i] == '+' || s[i] == '-')) i++;
            if (!skip_digits(s, n, &i)) return 0;
        }
        if (i < n && is_digit(s[i])) return 0; /* "01" */
    } else if (c == '[' || c == '{') {
        if (depth >= MAX_SKIP_DEPTH) return 0;
        unsigned char close = c == '[' ? ']' : '}';
        i = skip_space(s, n, i + 1);
        if (i < n && s[i] == close) {
            *pi = i + 1;
            return 1;
        }
        for (;;) {
            if (c == '{') {
                if (!scan_string(s, n, &i, &a, &b)) return 0;
                i = skip_space(s, n, i);
                if (i >= n || s[i] != ':') return 0;
                i = skip_space(s, n, i + 1);
            }
            if (!skip_value(s, n, &i, depth + 1)) return 0;
            i = skip_space(s, n, i);
            if (i < n && s[i] == ',') {
                i = skip_space(s, n, i + 1);
            } else if (i < n && s[i] == close) {
                i++;
                break;
            } else {
                return 0;
            }
        }
    } else if (i + 4 <= n && (memcmp(s + i, "true", 4) == 0 || memcmp(s + i, "null", 4) == 0)) {
        i += 4;
    } else if (i + 5 <= n && memcmp(s + i, "false", 5) == 0) {
        i += 5;
    } else {
        return 0;
    }
    *pi = i;
    return 1;
}

/* Field F's value at s[*pi] into row k's slots; 1 when set, 0 when declined, -1 on a
 * Python error. */
static int read_value(const FieldSpec *F, const unsigned char *s, Py_ssize_t n, Py_ssize_t *pi,
                      const uint64_t *table, double *fl, int64_t *in, int64_t *tm, double *values,
                      Py_ssize_t room, Py_ssize_t *at, int64_t *cnt, int64_t *off,
                      PyObject **texts, PyObject **lists) {
    Py_ssize_t i = *pi;
    if (i + 4 <= n && memcmp(s + i, "null", 4) == 0) {
        if (!F->nullable) return 0;
        *pi = i + 4;
        return set_empty(F, 0, fl, in, tm, texts, lists);
    }
    switch (F->kind) {
    case K_FLOAT: return parse_number(s, n, pi, table, &fl[F->slot]);
    case K_INT:
    case K_ENUM: {
        int64_t v;
        if (!parse_uint(s, n, pi, &v)) return 0;
        if (F->kind == K_ENUM && (v >= 64 || !((F->mask >> v) & 1))) return 0;
        in[F->slot] = v;
        return 1;
    }
    case K_STR: {
        Py_ssize_t a, b;
        if (!scan_string(s, n, pi, &a, &b)) return 0;
        PyObject *str = PyUnicode_FromStringAndSize((const char *)s + a, b - a);
        if (str == NULL) return -1;
        Py_XSETREF(texts[F->slot], str);
        return 1;
    }
    case K_TIME: {
        Py_ssize_t a, b;
        return scan_string(s, n, pi, &a, &b) && parse_time(s, a, b, &tm[F->slot]);
    }
    case K_ARRAY: {
        int64_t c = parse_array_at(s, n, pi, values + *at, room - *at, table);
        if (c < 0) return 0;
        cnt[F->slot] = c;
        off[F->slot] = *at;
        *at += c;
        return 1;
    }
    case K_INTLIST: return parse_int_list(s, n, pi, &lists[F->slot]);
    default: return 0;
    }
}

/* Row k of one payload; 1 when taken. texts/lists[slot] receive new references. A key
 * the contract has no field for is passed over, value and all, as msgspec ignores it. */
static int decode_one(const Spec *S, const unsigned char *s, Py_ssize_t n,
                      const uint64_t *table, double *fl, int64_t *in, int64_t *tm,
                      double *values, Py_ssize_t room, Py_ssize_t *at, int64_t *cnt,
                      int64_t *off, PyObject **texts, PyObject **lists) {
    uint64_t seen = 0;
    int next = 0, done;
    Py_ssize_t i = skip_space(s, n, 0);
    if (i >= n || s[i] != '{') return 0;
    i = skip_space(s, n, i + 1); /* an empty object fails scan_string: keys are required */
    for (;;) {
        Py_ssize_t ka, kb;
        if (!scan_string(s, n, &i, &ka, &kb)) return 0;
        int f = find_field(S, s, ka, kb, next);
        if (f >= 0) {
            if ((seen >> f) & 1) return 0; /* repeated */
            seen |= UINT64_C(1) << f;
            next = f + 1;
        }
        i = skip_space(s, n, i);
        if (i >= n || s[i] != ':') return 0;
        i = skip_space(s, n, i + 1);
        done = f < 0 ? skip_value(s, n, &i, 0)
                     : read_value(&S->f[f], s, n, &i, table, fl, in, tm, values, room, at,
                                  cnt, off, texts, lists);
        if (done != 1) return done;
        i = skip_space(s, n, i);
        if (i < n && s[i] == ',') {
            i = skip_space(s, n, i + 1);
            continue;
        }
        if (i < n && s[i] == '}') {
            i = skip_space(s, n, i + 1);
            if (i != n) return 0;
            break;
        }
        return 0;
    }
    for (int f = 0; f < S->n; f++) {
        if ((seen >> f) & 1) continue;
        const FieldSpec *F = &S->f[f];
        if (F->required) return 0;
        if ((done = set_empty(F, 1, fl, in, tm, texts, lists)) != 1) return done;
    }
    return 1;
}

/* Row k's objects (owned) into the lists of `columns` (a tuple of `slots` lists); None
 * where the payload was not taken. */
static void place_row(PyObject *columns, int slots, PyObject **row, Py_ssize_t k, int taken) {
    for (int j = 0; j < slots; j++) {
        PyObject *v = taken && row[j] ? row[j] : Py_None;
        if (v == Py_None) {
            Py_INCREF(Py_None);
            Py_XDECREF(row[j]);
        }
        PyList_SET_ITEM(PyTuple_GET_ITEM(columns, j), k, v);
    }
}

static PyObject *decode(PyObject *self, PyObject *args) {
    PyObject *capsule, *payloads, *result = NULL, *texts = NULL, *lists = NULL;
    Py_buffer table, floats, ints, times, values, counts, offsets, ok;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO!y*w*w*w*w*w*w*w*", &capsule, &PyList_Type, &payloads, &table,
                          &floats, &ints, &times, &values, &counts, &offsets, &ok))
        return NULL;
    if (!PyCapsule_IsValid(capsule, SPEC_CAPSULE)) {
        PyErr_SetString(PyExc_TypeError, "decode: the field table must come from fields()");
        goto done;
    }
    const Spec *S = PyCapsule_GetPointer(capsule, SPEC_CAPSULE);
    Py_ssize_t rows = PyList_GET_SIZE(payloads);
    const int *sl = S->slots;
    int nf = sl[K_FLOAT], ni = sl[K_INT] > sl[K_ENUM] ? sl[K_INT] : sl[K_ENUM];
    int nt = sl[K_TIME], na = sl[K_ARRAY], ns = sl[K_STR], nl = sl[K_INTLIST];
    if (table.len != 2 * (Q_MAX - Q_MIN + 1) * (Py_ssize_t)sizeof(uint64_t) ||
        floats.len != rows * nf * (Py_ssize_t)sizeof(double) ||
        ints.len != rows * ni * (Py_ssize_t)sizeof(int64_t) ||
        times.len != rows * nt * (Py_ssize_t)sizeof(int64_t) ||
        counts.len != rows * na * (Py_ssize_t)sizeof(int64_t) || offsets.len != counts.len ||
        ok.len != rows) {
        PyErr_SetString(PyExc_ValueError, "decode: buffer sizes do not match");
        goto done;
    }
    texts = PyTuple_New(ns);
    lists = PyTuple_New(nl);
    if (texts == NULL || lists == NULL) goto done;
    for (int j = 0; j < ns; j++) {
        PyObject *l = PyList_New(rows);
        if (l == NULL) goto done;
        PyTuple_SET_ITEM(texts, j, l);
    }
    for (int j = 0; j < nl; j++) {
        PyObject *l = PyList_New(rows);
        if (l == NULL) goto done;
        PyTuple_SET_ITEM(lists, j, l);
    }
    Py_ssize_t room = values.len / (Py_ssize_t)sizeof(double), at = 0;
    for (Py_ssize_t k = 0; k < rows; k++) {
        PyObject *item = PyList_GET_ITEM(payloads, k);
        PyObject *row_texts[MAX_SLOTS] = {NULL}, *row_lists[MAX_SLOTS] = {NULL};
        Py_buffer view;
        int taken = 0;
        Py_ssize_t before = at;
        if (PyObject_GetBuffer(item, &view, PyBUF_SIMPLE) == 0) {
            taken = decode_one(S, view.buf, view.len, table.buf, (double *)floats.buf + k * nf,
                               (int64_t *)ints.buf + k * ni, (int64_t *)times.buf + k * nt,
                               values.buf, room, &at, (int64_t *)counts.buf + k * na,
                               (int64_t *)offsets.buf + k * na, row_texts, row_lists);
            PyBuffer_Release(&view);
        } else {
            PyErr_Clear(); /* not bytes-like: declined */
        }
        if (taken < 0) { /* a Python error (memory) */
            for (int j = 0; j < MAX_SLOTS; j++) {
                Py_XDECREF(row_texts[j]);
                Py_XDECREF(row_lists[j]);
            }
            goto done;
        }
        ((char *)ok.buf)[k] = (char)taken;
        if (!taken) at = before;
        place_row(texts, ns, row_texts, k, taken);
        place_row(lists, nl, row_lists, k, taken);
    }
    result = PyTuple_Pack(2, texts, lists);
done:
    Py_XDECREF(texts);
    Py_XDECREF(lists);
    PyBuffer_Release(&table);
    PyBuffer_Release(&floats);
    PyBuffer_Release(&ints);
    PyBuffer_Release(&times);
    PyBuffer_Release(&values);
    PyBuffer_Release(&counts);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&ok);
    return result;
}

static PyMethodDef methods[] = {
    {"parse", parse, METH_VARARGS, "Parse JSON arrays of numbers into doubles (see the module)."},
    {"fields", fields, METH_VARARGS, "The keys decode() reads, checked (see schemas/json_columns.py)."},
    {"decode", decode, METH_VARARGS, "Payloads into column buffers (see schemas/json_columns.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_json_floats",
                                    "JSON numbers into doubles, and payloads into columns.", -1,
                                    methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__json_floats(void) { return PyModule_Create(&module); }
