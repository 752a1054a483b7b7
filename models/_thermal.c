/* The per-sample arithmetic of models/thermal.py's ThermalState, compiled: see
 * models/thermal_kernel.py for the Python side and why; tests/unit/
 * test_thermal_kernel.py holds every number to the update's numpy statement.
 *
 * The same IEEE operations in the same order as the numpy statement: built
 * with -ffp-contract=off (no fused multiply-add), the exponentials computed by
 * numpy before the call, the medians exact selections, a row's mean numpy's
 * pairwise sum. Arrays arrive as C-contiguous buffers: per frame row k (packs
 * of this update, in frame order) and per state row r = rows[k].
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { A_FAST, A_MED, A_SLOW, A_HALF_MED, A_VSLOW, A_INLET, N_ALPHAS };
enum { INS_HOURS = 24 }; /* the insulation peak's window, hours */

/* The ring slot of a clock hour (hours before the epoch too, as Python's %). */
static inline Py_ssize_t ring_slot(double hour) {
    double m = fmod(hour, (double)INS_HOURS);
    return (Py_ssize_t)(m < 0.0 ? m + (double)INS_HOURS : m);
}

static inline double nan_to(double x, double fill) {
    if (isnan(x)) return fill;
    if (isinf(x)) return x > 0 ? DBL_MAX : -DBL_MAX;
    return x;
}
/* np.minimum / np.maximum: NaN if either is. */
static inline double min_nan(double a, double b) {
    if (isnan(a)) return a;
    if (isnan(b)) return b;
    return a < b ? a : b;
}
static inline double max_nan(double a, double b) {
    if (isnan(a)) return a;
    if (isnan(b)) return b;
    return a > b ? a : b;
}
/* One step of an exponentially weighted mean; x itself on a restart. */
static inline double ew(double old, double x, double a, int restart) {
    return restart ? x : old + a * (x - old);
}
/* ew of a reading that may be missing (NaN): the old value kept, or x once there is no old one. */
static inline double ew_known(double old, double x, double a, int restart) {
    if (isnan(x)) return restart ? x : old;
    return restart || isnan(old) ? x : old + a * (x - old);
}
/* A leaky count of seconds: up by d while hit, down three times as fast while not, so a
 * sample or two at the boundary (a quantised reading, a coasting moment) does not restart it. */
static inline double leaky(double count, int hit, double d, int restart) {
    if (restart) return 0.0;
    if (hit) return count + d;
    double left = count - 3.0 * d;
    return left > 0.0 ? left : 0.0;
}
/* A robust baseline's step: base + pull * clip(x - base, -limit, limit); x on a restart. */
static inline double follow(double base, double x, double limit, double pull, int restart) {
    if (restart) return x;
    double step = x - base;
    if (step < -limit)
        step = -limit;
    else if (step > limit)
        step = limit;
    return base + pull * step;
}

/* Median of the two neighbours on each side (edges reflected), self excluded. */
static void nb_median(const double *x, Py_ssize_t s, double *out) {
    for (Py_ssize_t j = 0; j < s; j++) {
        Py_ssize_t ia = j - 2, ib = j - 1, ic = j + 1, id = j + 2;
        if (ia < 0) ia = -ia;
        if (ib < 0) ib = -ib;
        if (ic >= s) ic = 2 * (s - 1) - ic;
        if (id >= s) id = 2 * (s - 1) - id;
        double a = x[ia], b = x[ib], c = x[ic], d = x[id];
        double lo = max_nan(min_nan(a, b), min_nan(c, d));
        double hi = min_nan(max_nan(a, b), max_nan(c, d));
        out[j] = 0.5 * (lo + hi);
    }
}

/* numpy's pairwise sum (pairwise_sum in its loops): eight accumulators up to 128
 * values, halves (at a multiple of eight) beyond. */
static double pairwise(const double *a, Py_ssize_t n) {
    if (n < 8) {
        double res = 0.0;
        for (Py_ssize_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        Py_ssize_t i = 8, end = n - (n % 8);
        for (; i < end; i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    Py_ssize_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise(a, n2) + pairwise(a + n2, n - n2);
}

/* np.add.reduce of a row: the pairwise sum added to the identity +0.0 (so a sum
 * of negative zeros is +0.0, as numpy's). */
static double row_sum(const double *a, Py_ssize_t n) { return 0.0 + pairwise(a, n); }

/* The k-th smallest of w (reordered in place; no NaN in it). */
static double select_kth(double *w, Py_ssize_t n, Py_ssize_t k) {
    Py_ssize_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = w[(lo + hi) / 2];
        Py_ssize_t i = lo, j = hi;
        while (i <= j) {
            while (w[i] < pivot) i++;
            while (w[j] > pivot) j--;
            if (i <= j) {
                double t = w[i];
                w[i] = w[j];
                w[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return w[k];
}

/* np.median of a row (models/stats.row_median): NaN if it holds one (or is empty);
 * the middle value, or the two middle ones, added to +0.0 and divided by their count. */
static double median(const double *x, Py_ssize_t n, double *work) {
    if (n == 0) return NAN;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (isnan(x[i])) return NAN;
        work[i] = x[i];
    }
    Py_ssize_t h = n / 2;
    double upper = select_kth(work, n, h);
    if (n % 2) return (0.0 + upper) / 1.0;
    double lower = work[0]; /* everything before position h is <= upper */
    for (Py_ssize_t i = 1; i < h; i++)
        if (work[i] > lower) lower = work[i];
    return ((0.0 + lower) + upper) / 2.0;
}

/* ------------------------------------------------------------ argument handling */

typedef struct {
    Py_buffer view[42];
    int count;
} Buffers;

static void release(Buffers *b) {
    for (int i = 0; i < b->count; i++) PyBuffer_Release(&b->view[i]);
    b->count = 0;
}

/* The buffer of args[i] (an array of `itemsize`-byte items, writable if asked); NULL on error. */
static void *get(Buffers *b, PyObject *args, int i, Py_ssize_t itemsize, int writable,
                 Py_ssize_t *items) {
    if (b->count >= (int)(sizeof b->view / sizeof b->view[0])) {
        PyErr_SetString(PyExc_SystemError, "more array arguments than Buffers holds");
        return NULL;
    }
    Py_buffer *v = &b->view[b->count];
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(PyTuple_GET_ITEM(args, i), v, flags) < 0) return NULL;
    b->count++;
    if (v->len % itemsize) {
        PyErr_Format(PyExc_ValueError, "argument %d: not an array of %zd-byte items", i, itemsize);
        return NULL;
    }
    *items = v->len / itemsize;
    return v->buf;
}

#define ARRAY(var, type, i, writable, n)                                        \
    Py_ssize_t var##_n;                                                         \
    type *var = get(&b, args, i, sizeof(type), writable, &var##_n);             \
    if (!var) goto fail;                                                        \
    if ((n) >= 0 && var##_n != (n)) {                                           \
        PyErr_Format(PyExc_ValueError, "argument %d: %zd items, not %zd", i,    \
                     var##_n, (Py_ssize_t)(n));                                 \
        goto fail;                                                              \
    }

/* The neighbours' median takes two sensors on each side, mirrored at the ends. */
static int check_sensors(Py_ssize_t s) {
    if (s >= 3) return 1;
    PyErr_SetString(PyExc_ValueError, "a pack needs at least 3 temperature sensors");
    return 0;
}

static int check_rows(const int64_t *rows, Py_ssize_t n, Py_ssize_t cap) {
    for (Py_ssize_t k = 0; k < n; k++)
        if (rows[k] < 0 || rows[k] >= cap) {
            PyErr_SetString(PyExc_IndexError, "state row out of range");
            return 0;
        }
    return 1;
}

/* ----------------------------------------------------------- the first half */

static PyObject *advance_sensors(PyObject *self, PyObject *args) {
    (void)self;
    Buffers b = {.count = 0};
    double *hold = NULL;
    if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) != 24) {
        PyErr_SetString(PyExc_TypeError, "advance_sensors takes 24 arguments");
        return NULL;
    }
    double nominal_ah = PyFloat_AsDouble(PyTuple_GET_ITEM(args, 8));
    double open_c = PyFloat_AsDouble(PyTuple_GET_ITEM(args, 9));
    double is_lfp = PyFloat_AsDouble(PyTuple_GET_ITEM(args, 11));
    if (PyErr_Occurred()) return NULL;
    ARRAY(rows, int64_t, 0, 0, -1);
    Py_ssize_t n = rows_n;
    ARRAY(restart, uint8_t, 1, 0, n);
    ARRAY(alphas, double, 2, 0, N_ALPHAS * n);
    ARRAY(current, double, 3, 0, n);
    ARRAY(position, double, 10, 0, -1);
    Py_ssize_t s = position_n;
    if (!check_sensors(s)) goto fail;
    ARRAY(temps, double, 4, 0, n * s);
    ARRAY(inlet, double, 5, 0, n);
    ARRAY(outlet, double, 6, 0, n);
    ARRAY(ambient, double, 7, 0, n);
    ARRAY(i2_s, double, 12, 1, -1);
    Py_ssize_t cap = i2_s_n;
    ARRAY(i2_f, double, 13, 1, cap);
    ARRAY(cdt_avg, double, 14, 1, cap);
    ARRAY(t_hold, double, 15, 1, cap * s);
    ARRAY(drop, double, 16, 1, cap * s);
    ARRAY(stuck_a, double, 17, 1, cap * s);
    ARRAY(stuck_b, double, 18, 1, cap * s);
    ARRAY(t_f, double, 19, 1, cap * s);
    ARRAY(t_s, double, 20, 1, cap * s);
    ARRAY(valid, uint8_t, 21, 1, n * s);
    ARRAY(raw_res, double, 22, 1, n * s);
    ARRAY(x, float, 23, 1, n * s * 7);
    if (!check_rows(rows, n, cap)) goto fail;
    hold = PyMem_Malloc(3 * (size_t)(s ? s : 1) * sizeof(double));
    if (!hold) {
        PyErr_NoMemory();
        goto fail;
    }
    double *step = hold + s, *med = hold + 2 * s;
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t r = (Py_ssize_t)rows[k];
        int init = restart[k] != 0;
        double a_fast = alphas[A_FAST * n + k], a_med = alphas[A_MED * n + k];
        double a_slow = alphas[A_SLOW * n + k], a_half = alphas[A_HALF_MED * n + k];
        double q = current[k] / nominal_ah;
        double crate2 = q * q;
        i2_s[r] = ew(i2_s[r], crate2, a_slow, init);
        i2_f[r] = ew(i2_f[r], crate2, a_half, init);

        const double *tk = temps + k * s;
        double *th = t_hold + r * s;
        uint8_t *vk = valid + k * s;
        int missing = 0;
        for (Py_ssize_t j = 0; j < s; j++) {
            double t = tk[j];
            int ok = t > open_c;
            vk[j] = (uint8_t)ok;
            hold[j] = ok ? t : (init ? NAN : th[j]);
            if (isnan(hold[j])) missing = 1;
        }
        if (missing) { /* a sensor that has never read a value borrows its neighbours' median */
            for (Py_ssize_t j = 0; j < s; j++) step[j] = nan_to(hold[j], 25.0);
            nb_median(step, s, med);
            for (Py_ssize_t j = 0; j < s; j++)
                if (isnan(hold[j])) hold[j] = med[j];
        }
        for (Py_ssize_t j = 0; j < s; j++) step[j] = init ? 0.0 : fabs(hold[j] - th[j]);
        nb_median(step, s, med);
        double *dr = drop + r * s, *sa = stuck_a + r * s, *sb = stuck_b + r * s;
        double *tf = t_f + r * s, *ts = t_s + r * s;
        for (Py_ssize_t j = 0; j < s; j++) {
            double h = hold[j];
            dr[j] = ew(dr[j], vk[j] ? 0.0 : 1.0, a_med, init);
            sa[j] = ew(sa[j], step[j], a_slow, init);
            sb[j] = ew(sb[j], med[j], a_slow, init);
            th[j] = h;
            tf[j] = ew(tf[j], h, a_fast, init);
            ts[j] = ew(ts[j], h, a_med, init);
        }

        double in = nan_to(inlet[k], 25.0);
        double amb = nan_to(ambient[k], 30.0);
        double cdt = nan_to(outlet[k], 25.0) - in;
        cdt_avg[r] = ew(cdt_avg[r], cdt, a_half, init);
        double *rr = raw_res + k * s;
        float *xk = x + k * s * 7;
        for (Py_ssize_t j = 0; j < s; j++) {
            double tc = in + cdt * position[j];
            rr[j] = hold[j] - tc;
            float *xj = xk + j * 7;
            xj[0] = (float)tc;
            xj[1] = (float)(amb - tc);
            xj[2] = (float)i2_s[r];
            xj[3] = (float)i2_f[r];
            xj[4] = (float)cdt;
            xj[5] = (float)position[j];
            xj[6] = (float)is_lfp;
        }
    }
    PyMem_Free(hold);
    release(&b);
    Py_RETURN_NONE;
fail:
    PyMem_Free(hold);
    release(&b);
    return NULL;
}

/* ---------------------------------------------------------- the second half */

static PyObject *advance_rest(PyObject *self, PyObject *args) {
    (void)self;
    Buffers b = {.count = 0};
    double *work = NULL;
    if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) != 42) {
        PyErr_SetString(PyExc_TypeError, "advance_rest takes 42 arguments");
        return NULL;
    }
    ARRAY(rows, int64_t, 0, 0, -1);
    Py_ssize_t n = rows_n;
    ARRAY(tsv, double, 1, 0, n);
    ARRAY(dt, double, 2, 0, n);
    ARRAY(restart, uint8_t, 3, 0, n);
    ARRAY(alphas, double, 4, 0, N_ALPHAS * n);
    ARRAY(pull, double, 5, 0, n);
    ARRAY(current, double, 6, 0, n);
    ARRAY(cell_v, double, 7, 0, -1);
    Py_ssize_t c = n ? cell_v_n / n : 0;
    ARRAY(temps, double, 8, 0, -1);
    Py_ssize_t s = n ? temps_n / n : 0;
    ARRAY(inlet, double, 9, 0, n);
    ARRAY(outlet, double, 10, 0, n);
    ARRAY(ambient, double, 11, 0, n);
    ARRAY(insulation, double, 12, 0, n);
    ARRAY(valid, uint8_t, 13, 0, n * s);
    ARRAY(raw_res, double, 14, 0, n * s);
    ARRAY(expected, double, 15, 0, n * s);
    ARRAY(loop, double, 16, 0, 12);
    ARRAY(res_f, double, 17, 1, -1);
    Py_ssize_t cap = s ? res_f_n / s : 0;
    ARRAY(res_s, double, 18, 1, cap * s);
    ARRAY(loc_b, double, 19, 1, cap * s);
    ARRAY(loc_f, double, 20, 1, cap * s);
    ARRAY(loc_s, double, 21, 1, cap * s);
    ARRAY(pres_s, double, 22, 1, cap);
    ARRAY(pres_m, double, 23, 1, cap);
    ARRAY(pwr, double, 24, 1, cap);
    ARRAY(on_s, double, 25, 1, cap);
    ARRAY(chill_s, double, 26, 1, cap);
    ARRAY(in_chill, double, 27, 1, cap);
    ARRAY(in_rad, double, 28, 1, cap);
    ARRAY(inlet_off_s, double, 29, 1, cap);
    ARRAY(e_ii, double, 30, 1, cap);
    ARRAY(e_dvi, double, 31, 1, cap * c);
    ARRAY(i_prev, double, 32, 1, cap);
    ARRAY(dv_prev, double, 33, 1, cap * c);
    ARRAY(rex_b, double, 34, 1, cap * c);
    ARRAY(dvc_f, double, 35, 1, cap * c);
    ARRAY(dvc_s, double, 36, 1, cap * c);
    ARRAY(dvc_q, double, 37, 1, cap * c);
    ARRAY(ins_hour, double, 38, 1, cap);
    ARRAY(ins_hr, double, 39, 1, cap * INS_HOURS);
    ARRAY(last_ts, double, 40, 1, cap);
    ARRAY(seen, uint8_t, 41, 1, cap);
    if (n && !check_sensors(s)) goto fail;
    if (n && (cell_v_n != n * c || temps_n != n * s)) {
        PyErr_SetString(PyExc_ValueError, "cell or temperature rows of unequal length");
        goto fail;
    }
    if (!check_rows(rows, n, cap)) goto fail;
    double powered_a = loop[0], base_step_c = loop[1], base_step_mohm = loop[2];
    double setpoint_c = loop[3], pull_c = loop[4], on_above_c = loop[5], short_c = loop[6];
    double trust_ii = loop[7], radiator_share = loop[8], off_c = loop[9], settle_s = loop[10];
    double step_max_s = loop[11];
    work = PyMem_Malloc((size_t)(s + c + 1) * sizeof(double));
    if (!work) {
        PyErr_NoMemory();
        goto fail;
    }
    double *nb = work + c;
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t r = (Py_ssize_t)rows[k];
        int init = restart[k] != 0;
        double d = dt[k];
        double a_fast = alphas[A_FAST * n + k], a_med = alphas[A_MED * n + k];
        double a_slow = alphas[A_SLOW * n + k], a_vslow = alphas[A_VSLOW * n + k];
        double pk = pull[k];
        double *rf = res_f + r * s, *rs = res_s + r * s;
        for (Py_ssize_t j = 0; j < s; j++) {
            double res = raw_res[k * s + j] - expected[k * s + j];
            rf[j] = ew(rf[j], res, a_fast, init);
            rs[j] = ew(rs[j], res, a_slow, init);
        }
        /* Each sensor's own calibration offset shows as a constant local residual:
         * a robust baseline learns it and the features use the departure from it. */
        nb_median(rf, s, nb);
        double *lb = loc_b + r * s, *lf = loc_f + r * s, *ls = loc_s + r * s;
        for (Py_ssize_t j = 0; j < s; j++) {
            double raw = rf[j] - nb[j];
            lb[j] = follow(lb[j], raw, base_step_c, pk, init);
            double loc = raw - lb[j];
            lf[j] = loc;
            ls[j] = ew(ls[j], loc, a_slow, init);
        }
        double pres = row_sum(rf, s) / (double)s;
        pres_s[r] = ew(pres_s[r], pres, a_slow, init);
        pres_m[r] = ew(pres_m[r], pres, a_med, init);

        /* Powered time (on_s counts only powered samples), how long the chiller has
         * fallen short of its duty, and how long the inlet has sat away from what the
         * loop's specification gives. */
        double i = current[k];
        double powered = fabs(nan_to(i, 0.0)) >= powered_a ? 1.0 : 0.0;
        pwr[r] = ew(pwr[r], powered, a_fast, init);
        int on = pwr[r] >= 0.5;
        on_s[r] = on && !init ? on_s[r] + d : 0.0;
        double t1 = -INFINITY, t2 = -INFINITY, t3 = -INFINITY; /* the three hottest valid */
        for (Py_ssize_t j = 0; j < s; j++) {
            if (!valid[k * s + j]) continue;
            double t = temps[k * s + j];
            if (t > t1) {
                t3 = t2;
                t2 = t1;
                t1 = t;
            } else if (t > t2) {
                t3 = t2;
                t2 = t;
            } else if (t > t3) {
                t3 = t;
            }
        }
        double want = max_nan(setpoint_c, outlet[k] - pull_c);
        int is_short = t3 >= on_above_c + 2.0 && inlet[k] - want >= short_c && on;
        /* A gap in the data is no evidence: one sample counts for step_max_s at most. */
        double step = d < step_max_s ? d : step_max_s;
        chill_s[r] = leaky(chill_s[r], is_short, step, init);
        /* The inlet the specification gives in either of the loop's modes, reached
         * with the inlet's time constant: the chiller's want, or the radiator's
         * outlet + share * (ambient - outlet). An inlet far from both, pumping, is
         * a loop doing neither. */
        double a_in = alphas[A_INLET * n + k];
        in_chill[r] = ew_known(in_chill[r], want, a_in, init);
        double rad = outlet[k] + radiator_share * (ambient[k] - outlet[k]);
        in_rad[r] = ew_known(in_rad[r], rad, a_in, init);
        double off = min_nan(fabs(inlet[k] - in_chill[r]), fabs(inlet[k] - in_rad[r]));
        int is_off = off >= off_c && on_s[r] >= settle_s; /* settled: powered now */
        /* Without this sample's three temperatures the count holds: a reference frozen
         * over a dropout is no evidence either way. */
        if (init || (isfinite(inlet[k]) && isfinite(outlet[k]) && isfinite(ambient[k])))
            inlet_off_s[r] = leaky(inlet_off_s[r], is_off, step, init);

        /* Cell voltage deviations from the pack median, their steps regressed on the
         * current's steps: E[d(dv) dI] / E[dI^2] is a cell's extra series resistance. */
        const double *cv = cell_v + k * c;
        double m = median(cv, c, work);
        double di = init ? 0.0 : i - i_prev[r];
        e_ii[r] = ew(e_ii[r], di * di, a_slow, init);
        double var = max_nan(e_ii[r], 1.0);
        int trusted = var > trust_ii;
        double *ed = e_dvi + r * c, *dp = dv_prev + r * c, *rb = rex_b + r * c;
        double *df = dvc_f + r * c, *ds = dvc_s + r * c, *dq = dvc_q + r * c;
        for (Py_ssize_t j = 0; j < c; j++) {
            double dv = cv[j] - m;
            double ddv = init ? 0.0 : dv - dp[j];
            ed[j] = ew(ed[j], ddv * di, a_slow, init);
            dp[j] = dv;
            double rex = trusted ? 1e3 * ed[j] / var : 0.0;
            rb[j] = follow(rb[j], rex, base_step_mohm, pk, init);
            double dvc = dv - rex * 1e-3 * i;
            dq[j] = ew(dq[j], dvc, a_fast, init);
            df[j] = ew(df[j], dvc, a_med, init);
            ds[j] = ew(ds[j], dvc, a_vslow, init);
        }
        i_prev[r] = i;

        /* The insulation's highest reading of each clock hour, in a ring of
         * INS_HOURS (ThermalState.insulation_peak takes the day's peak off it).
         * The hours passed since the pack's latest hour are cleared (a gap of a
         * day clears them all, a shorter one keeps the rest); a sample from an
         * earlier hour still in the window goes to its own hour; a pack seen for
         * the first time, or whose clock went back a day or more, starts an
         * empty ring. */
        double ins = insulation[k], hour = floor(tsv[k] / 3600.0);
        double *hr = ins_hr + r * INS_HOURS;
        if (isfinite(hour)) {
            double ahead = seen[r] ? hour - ins_hour[r] : (double)INS_HOURS;
            if (ahead > 0.0 || ahead <= -(double)INS_HOURS) {
                double passed = ahead > 0.0 && ahead < (double)INS_HOURS ? ahead : (double)INS_HOURS;
                for (Py_ssize_t h = (Py_ssize_t)passed - 1; h >= 0; h--)
                    hr[ring_slot(hour - (double)h)] = NAN;
                ins_hour[r] = hour;
            }
            double *slot = hr + ring_slot(hour);
            if (!isnan(ins) && !(*slot >= ins)) *slot = ins;
        }
        last_ts[r] = tsv[k];
        seen[r] = 1;
    }
    PyMem_Free(work);
    release(&b);
    Py_RETURN_NONE;
fail:
    PyMem_Free(work);
    release(&b);
    return NULL;
}

/* Test hooks: the median and the row sum above, of one row of doubles. */
static int get_row(PyObject *arg, Py_buffer *v, Py_ssize_t *n) {
    if (PyObject_GetBuffer(arg, v, PyBUF_C_CONTIGUOUS) < 0) return 0;
    if (v->len % (Py_ssize_t)sizeof(double)) {
        PyBuffer_Release(v);
        PyErr_SetString(PyExc_ValueError, "not an array of doubles");
        return 0;
    }
    *n = v->len / (Py_ssize_t)sizeof(double);
    return 1;
}

static PyObject *py_median(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer v;
    Py_ssize_t n;
    if (!get_row(arg, &v, &n)) return NULL;
    double *work = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(double));
    double out = work ? median(v.buf, n, work) : 0.0;
    int ok = work != NULL;
    PyMem_Free(work);
    PyBuffer_Release(&v);
    return ok ? PyFloat_FromDouble(out) : PyErr_NoMemory();
}

static PyObject *py_row_sum(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer v;
    Py_ssize_t n;
    if (!get_row(arg, &v, &n)) return NULL;
    double out = row_sum(v.buf, n);
    PyBuffer_Release(&v);
    return PyFloat_FromDouble(out);
}

static PyMethodDef methods[] = {
    {"median", py_median, METH_O, "np.median of a float64 row (a test hook)."},
    {"row_sum", py_row_sum, METH_O, "np.add.reduce of a float64 row (a test hook)."},
    {"advance_sensors", advance_sensors, METH_VARARGS,
     "First half of ThermalState.update (see models/thermal_kernel.py)."},
    {"advance_rest", advance_rest, METH_VARARGS,
     "Second half of ThermalState.update (see models/thermal_kernel.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_thermal",
                                    "ThermalState's per-sample arithmetic.", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__thermal(void) { return PyModule_Create(&module); }
