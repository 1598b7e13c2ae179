/*
 * litepose_ros native decoder core: LitePose / HigherHRNet bottom-up decoding (heatmaps +
 * associative-embedding tags -> people) in plain C99, behind a small C ABI that Python loads
 * with ctypes (no Python headers, so one build serves Python 3.6 through current).
 *
 * It computes what litepose_ros/decoding/reference.py computes, step by step, with the same
 * float32 / float64 arithmetic, so that both return the same people:
 *   - 2x bilinear upsampling (align_corners=False) as two float32 passes, rows first then
 *     columns, each output `a * wa + b * wb`. Build with -ffp-contract=off: a fused
 *     multiply-add would round differently from numpy (and from this file on another CPU).
 *   - heatmaps (stage-1 upsampled + stage 2) / 2, flip test averaged, optionally projected to
 *     the input size; max-pool NMS; the best max_num_people peaks per joint (value, then index);
 *   - grouping joint by joint on round(tag distance) * 100 - score + tie-break, solved with
 *     the shortest augmenting path algorithm (Crouse 2016, the algorithm scipy's
 *     linear_sum_assignment uses, so exact ties resolve alike); person mean tags in float64,
 *     summed in the order the tags were added;
 *   - quarter-pixel adjustment, person score = mean joint score, refinement of missing joints.
 * Maps are computed only where they are read: heatmap rows where a bound from the rows they are
 * blended from allows a pixel above the threshold (at stride 2, the heatmaps the refine step
 * needed whole in the previous frame are computed whole at once), tags at the candidates'
 * pixels, and for the refine step the tiles whose bound (heat maximum less the rounded distance
 * to their tag range) can reach the best value found so far. Hot loops use four-float vectors
 * (SSE, NEON) with the scalar operations' IEEE rounding. The per-joint steps run in threads
 * where that pays.
 */
#define _POSIX_C_SOURCE 200112L /* pthreads and sysconf under -std=c99 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* Four floats at a time in the hot loops: SSE (every x86-64) or NEON (every aarch64; 32-bit NEON
 * lacks the square root the refine scan needs); plain loops elsewhere. Each lane rounds as the
 * scalar operation does (IEEE float32, no fused multiply-add), so the results do not depend on it. */
#if defined(LP_NO_SIMD) /* plain loops (a test builds it so) */
#elif defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define LP_V4 1
typedef __m128 lp_v4;
#define v4_load _mm_loadu_ps
#define v4_store _mm_storeu_ps
#define v4_max _mm_max_ps
#define v4_min _mm_min_ps
#define v4_set1 _mm_set1_ps
#define v4_add _mm_add_ps
#define v4_sub _mm_sub_ps
#define v4_mul _mm_mul_ps
#define v4_sqrt _mm_sqrt_ps
#define v4_select(mask, a, b) _mm_or_ps(_mm_and_ps(mask, a), _mm_andnot_ps(mask, b))
#define v4_less _mm_cmplt_ps
/* whether any of a's or b's lanes is greater than t (NaN lanes are not) */
static int v4_any_greater(lp_v4 a, lp_v4 b, lp_v4 t) {
    return _mm_movemask_ps(_mm_or_ps(_mm_cmpgt_ps(a, t), _mm_cmpgt_ps(b, t))) != 0;
}
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#define LP_V4 1
typedef float32x4_t lp_v4;
#define v4_load vld1q_f32
#define v4_store vst1q_f32
#define v4_max vmaxq_f32
#define v4_min vminq_f32
#define v4_set1 vdupq_n_f32
#define v4_add vaddq_f32
#define v4_sub vsubq_f32
#define v4_mul vmulq_f32
#define v4_select vbslq_f32
#define v4_less vcltq_f32
static int v4_any_greater(lp_v4 a, lp_v4 b, lp_v4 t) {
    const uint32x4_t greater = vorrq_u32(vcgtq_f32(a, t), vcgtq_f32(b, t));
    const uint32x2_t half = vorr_u32(vget_low_u32(greater), vget_high_u32(greater));
    return (vget_lane_u32(half, 0) | vget_lane_u32(half, 1)) != 0;
}
#if defined(__aarch64__) /* 32-bit NEON has no square root */
#define v4_sqrt vsqrtq_f32
#endif
#endif
/* Four IEEE float32 results at once, each rounded as its scalar twin (the refine scan). */
#if defined(LP_V4) && defined(v4_sqrt)
#define LP_V4_MATH 1
#endif

#if defined(_WIN32)
#define LP_EXPORT __declspec(dllexport)
#else
#define LP_EXPORT __attribute__((visibility("default")))
#endif

#define LP_ABI_VERSION 2 /* native/abi.py ABI_VERSION; 2: lp_config_layout */

enum { LP_OK = 0, LP_ERR_NOMEM = -1, LP_ERR_ARGS = -2, LP_ERR_CAPACITY = -3, LP_ERR_NONFINITE = -4 };

/* Decoder settings, field for field DecoderConfig (decoding/config.py) and LpConfig (native/abi.py,
 * which compares its layout with lp_config_layout's at load). */
typedef struct {
    int32_t num_joints;
    int32_t max_num_people;
    int32_t nms_kernel;
    int32_t project_to_input;
    int32_t adjust;
    int32_t refine;
    int32_t use_detection_val;
    int32_t ignore_too_much;
    double detection_threshold;
    double tag_threshold;
    const int32_t *joint_order; /* [num_joints] */
    const int32_t *flip_index;  /* [num_joints] */
} lp_config;

/* ------------------------------------------------------------------------ small helpers */
typedef struct {
    int32_t lo, hi;
    float wlo, whi;
} lp_tap;

/* Output o of a 2x upsampling of n samples reads lo, hi with weights wlo, whi: pixel centres
 * map to (o + 0.5) / 2 - 0.5, so 2k reads k-1, k (0.25, 0.75) and 2k+1 reads k, k+1 (0.75, 0.25);
 * beyond the edges the nearest sample with weights (1, 0). */
static void axis_taps(int n, lp_tap *taps) {
    for (int o = 0; o < 2 * n; ++o) {
        int lo = o / 2 - 1 + o % 2;
        float wlo = (o % 2 == 0) ? 0.25f : 0.75f;
        float whi = 1.0f - wlo;
        int edge = lo < 0 || lo + 1 > n - 1;
        int hi = lo + 1 < 0 ? 0 : (lo + 1 > n - 1 ? n - 1 : lo + 1);
        lo = lo < 0 ? 0 : (lo > n - 1 ? n - 1 : lo);
        if (edge) {
            wlo = 1.0f;
            whi = 0.0f;
        }
        taps[o].lo = lo;
        taps[o].hi = hi;
        taps[o].wlo = wlo;
        taps[o].whi = whi;
    }
}

/* Grow-only buffer. */
typedef struct {
    void *data;
    size_t size;
} lp_buf;

static void *buf_get(lp_buf *buf, size_t size) {
    if (size == 0) size = 1;
    if (buf->size < size) {
        void *data = realloc(buf->data, size);
        if (!data) return NULL;
        buf->data = data;
        buf->size = size;
    }
    return buf->data;
}

/* Horizontal pass of the 2x upsampling: one source row of w samples -> 2w outputs. Inside the
 * row the taps are fixed (0.25, 0.75 / 0.75, 0.25), written out so the compiler vectorises. */
static void upsample_row(const float *src, const lp_tap *tx, int w2, float *out) {
    const int w = w2 / 2;
    out[0] = src[tx[0].lo] * tx[0].wlo + src[tx[0].hi] * tx[0].whi;
    for (int k = 1; k < w; ++k) {
        out[2 * k] = src[k - 1] * 0.25f + src[k] * 0.75f;
        out[2 * k - 1] = src[k - 1] * 0.75f + src[k] * 0.25f;
    }
    out[w2 - 1] = src[tx[w2 - 1].lo] * tx[w2 - 1].wlo + src[tx[w2 - 1].hi] * tx[w2 - 1].whi;
}

/* Vertical pass: out = a * wa + b * wb, element by element (mirrored: out[x] reads x' = n-1-x). */
static void blend_rows(const float *a, const float *b, float wa, float wb, int n, int mirrored, float *out) {
    if (mirrored) {
        for (int x = 0; x < n; ++x) out[x] = a[n - 1 - x] * wa + b[n - 1 - x] * wb;
    } else {
        for (int x = 0; x < n; ++x) out[x] = a[x] * wa + b[x] * wb;
    }
}

/* round-half-to-even of x >= 0 in float32, as np.round; beyond 2^23 floats are integers. */
static float round_even(float x) {
    const float big = 8388608.0f; /* 2^23: adding it leaves no fraction bits, rounding to even */
    if (!(x < big)) return x;
    return (x + big) - big;
}

/* ------------------------------------------------------------------------ the decoder state */
typedef struct {
    int x, y;
    float value;
    float tag[2];
} lp_candidate;

typedef struct {
    double key; /* first tag value of the joint that started the person */
    double tag_sum[2];
    int tag_count;
} lp_group;

typedef struct {
    float heat_max, heat_margin;
    float tag_lo[2], tag_hi[2];
} lp_tile;

/* One thread's scratch memory (each thread works on its own joints). */
typedef struct {
    float *row;      /* [gw]: the flipped side's heatmap row */
    float *rmax;     /* [4 h2]: row maxima */
    float *colstats; /* [2 max(w2, gw)] */
    float *tilework; /* [3 tiles] */
    float *bounds;   /* [tiles] */
    float *hrow[4];  /* [w2] each: per side, the last two stage-1 rows after the horizontal pass */
    long hkey[4];    /* which rows they are (-1: none) */
    int hlast[2];    /* per side, the one used last */
    lp_buf buf;
} lp_work;

#define LP_MAX_THREADS 8

typedef struct lp_decoder {
    /* the current call */
    const lp_config *cfg;
    const float *stage1[2], *stage2[2]; /* [2J, h1, w1], [J, h2, w2]; [1] = flipped outputs */
    int J, sides, project;              /* sides: 1, or 2 with the flip test (= tag dimensions) */
    int h1, w1, h2, w2, gh, gw;         /* stage 1, stage 2, grouping resolution */
    lp_tap *ty1, *tx1, *ty2, *tx2;      /* upsampling stage 1 -> 2 and stage 2 -> input */
    /* maps, computed on first use; *_ready flags per row */
    float *heat2;          /* [sides, J, h2, w2] stride-2 heatmaps per side (projection only) */
    float *hrow2;          /* [sides, J, h2, gw] their rows, horizontal pass done (projection only) */
    float *heat;           /* [J, gh, gw] heatmaps at the grouping resolution */
    float *tags;           /* [sides, J, h2, w2] stride-2 tags, whole per joint (projection only) */
    float *gtags;          /* [sides, J, gh, gw] tags at the grouping resolution, per refine tile */
    uint8_t *tile_filled;  /* [J, tiles] */
    lp_work work[LP_MAX_THREADS];
    int threads;           /* threads the per-joint steps may use */
    size_t last_rows_above; /* heatmap rows above the threshold in the previous frame */
    uint8_t *whole_heat;    /* [J]: the refine step computed this joint's whole heatmap in the
                             * previous frame (stride 2; zeros after a change of shape) */
    uint64_t whole_heat_shape; /* the J, gh, gw those flags are for */
    uint8_t *hrow2_ready, *heat_ready, *above, *tags_ready, *tiles_ready, *heat_max_ready;
    lp_tile *tiles;        /* [J, tile_count] */
    lp_tile *supers;       /* [J, super_count]: SUPER x SUPER tiles each */
    int super_count;
    int tile_size, tiles_per_row, tile_count;
    /* candidates and groups */
    lp_candidate *cands; /* [J, K] */
    int *cand_count;     /* [J] */
    lp_group *groups;
    float *group_joints; /* [capacity, J, 5]: x, y, value, tags */
    int num_groups, group_capacity;
    /* the refine step */
    float *keypoints;    /* the output, [people, J, 3] */
    float *person_tags;  /* [refined, 2] */
    int *refined;        /* people with joints to fill */
    int num_refined;
    /* storage: grow-only buffers reused from call to call */
    lp_buf buf_taps, buf_heat2, buf_hrow2, buf_heat, buf_tags, buf_gtags, buf_flags,
        buf_tiles, buf_cands, buf_groups, buf_gjoints, buf_match, buf_lsap, buf_persons, buf_whole;
} lp_decoder;

LP_EXPORT int lp_abi_version(void) { return LP_ABI_VERSION; }

/* lp_config as this compiler laid it out: its size, then each field's offset and size in
 * declaration order, into out[0..capacity). Returns the number of values (call with capacity 0
 * to size out). The Python side refuses a library whose layout differs from its declaration. */
#define LP_FIELD(name) (int64_t)offsetof(lp_config, name), (int64_t)sizeof(((lp_config *)0)->name)
LP_EXPORT int lp_config_layout(int64_t *out, int capacity) {
    const int64_t layout[] = {(int64_t)sizeof(lp_config), LP_FIELD(num_joints), LP_FIELD(max_num_people),
                              LP_FIELD(nms_kernel), LP_FIELD(project_to_input), LP_FIELD(adjust), LP_FIELD(refine),
                              LP_FIELD(use_detection_val), LP_FIELD(ignore_too_much), LP_FIELD(detection_threshold),
                              LP_FIELD(tag_threshold), LP_FIELD(joint_order), LP_FIELD(flip_index)};
    const int n = (int)(sizeof(layout) / sizeof(layout[0]));
    for (int i = 0; out && i < n && i < capacity; ++i) out[i] = layout[i];
    return n;
}
#undef LP_FIELD

/* Threads for the per-joint steps: LITEPOSE_DECODER_THREADS, else the online CPUs, at most 4
 * (the decoder follows inference, which has finished with the cores by then). */
static int default_threads(void) {
    const char *text = getenv("LITEPOSE_DECODER_THREADS");
    long n = text && *text ? strtol(text, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    if (!(text && *text) && n > 4) n = 4;
    return n < 1 ? 1 : (n > LP_MAX_THREADS ? LP_MAX_THREADS : (int)n);
}

LP_EXPORT lp_decoder *lp_decoder_create(void) {
    lp_decoder *d = (lp_decoder *)calloc(1, sizeof(lp_decoder));
    if (d) d->threads = default_threads();
    return d;
}

/* Sets the threads (1..8; results do not depend on it); returns the number in use. */
LP_EXPORT int lp_decoder_set_threads(lp_decoder *d, int threads) {
    if (!d) return 0;
    if (threads >= 1) d->threads = threads > LP_MAX_THREADS ? LP_MAX_THREADS : threads;
    return d->threads;
}

LP_EXPORT void lp_decoder_destroy(lp_decoder *d) {
    if (!d) return;
    lp_buf *bufs[] = {&d->buf_taps, &d->buf_heat2, &d->buf_hrow2,   &d->buf_heat,
                      &d->buf_tags,  &d->buf_gtags, &d->buf_flags, &d->buf_tiles, &d->buf_cands,
                      &d->buf_groups, &d->buf_gjoints, &d->buf_match, &d->buf_lsap, &d->buf_persons,
                      &d->buf_whole};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); ++i) free(bufs[i]->data);
    for (int t = 0; t < LP_MAX_THREADS; ++t) free(d->work[t].buf.data);
    free(d);
}

#define SUPER 4 /* tiles per side of a super tile */
#define LP_TILE 8 /* pixels per side of a refine tile: two four-float vectors per tile row */
typedef char lp_tile_is_two_vectors[LP_TILE == 8 ? 1 : -1]; /* the vector loops assume it */
#define JSTRIDE 5 /* floats per grouped joint: x, y, value, tag0, tag1 */

static size_t plane(int h, int w) { return (size_t)h * (size_t)w; }

/* The stage-1 / stage-2 channel that side s reads for joint j (the flip test swaps left/right). */
static int source_joint(const lp_decoder *d, int s, int j) { return s == 0 ? j : d->cfg->flip_index[j]; }

/* ------------------------------------------------------------------------ heatmaps */
/* Row r of stage-1 channel c on side s after the horizontal pass. Rows are asked for in
 * order (each output row blends two), so a two-row cache per thread and side serves them
 * without keeping the whole pass in memory. */
static const float *stage1_hrow(lp_decoder *d, lp_work *w, int s, int c, int r) {
    const long key = (long)c * d->h1 + r;
    for (int i = 2 * s; i < 2 * s + 2; ++i)
        if (w->hkey[i] == key) {
            w->hlast[s] = i;
            return w->hrow[i];
        }
    const int slot = w->hlast[s] == 2 * s ? 2 * s + 1 : 2 * s; /* keep the row used last: its partner
                                                                * may be asked next */
    upsample_row(d->stage1[s] + ((size_t)c * d->h1 + r) * d->w1, d->tx1, d->w2, w->hrow[slot]);
    w->hkey[slot] = key;
    w->hlast[s] = slot;
    return w->hrow[slot];
}

/* Row y of side s's stride-2 heatmap of joint j: (upsampled stage 1 + stage 2) / 2 of the
 * source joint, columns mirrored on the flipped side (the reference's _stage_maps). */
static void stride2_heat_row(lp_decoder *d, lp_work *w, int s, int j, int y, float *out) {
    const int c = source_joint(d, s, j), w2 = d->w2;
    const lp_tap t = d->ty1[y];
    const float *a = stage1_hrow(d, w, s, c, t.lo), *b = stage1_hrow(d, w, s, c, t.hi);
    const float *s2 = d->stage2[s] + ((size_t)c * d->h2 + y) * w2;
    if (s == 0) {
        for (int x = 0; x < w2; ++x) out[x] = (a[x] * t.wlo + b[x] * t.whi + s2[x]) / 2.0f;
    } else {
        for (int x = 0; x < w2; ++x) {
            const int m = w2 - 1 - x;
            out[x] = (a[m] * t.wlo + b[m] * t.whi + s2[m]) / 2.0f;
        }
    }
}

/* Projection: row y of side s's stride-2 heatmap of joint j after the horizontal pass. */
static const float *heat2_hrow(lp_decoder *d, int s, int j, int y) {
    const size_t id = ((size_t)s * d->J + j) * d->h2 + y;
    float *out = d->hrow2 + id * d->gw;
    if (!d->hrow2_ready[id]) {
        upsample_row(d->heat2 + id * d->w2, d->tx2, d->gw, out);
        d->hrow2_ready[id] = 1;
    }
    return out;
}

/* Row y of joint j's heatmap at the grouping resolution; the flip test averages the sides. */
static const float *heat_row(lp_decoder *d, lp_work *w, int j, int y) {
    const size_t id = (size_t)j * d->gh + y;
    float *out = d->heat + id * d->gw;
    if (d->heat_ready[id]) return out;
    float *other = w->row;
    for (int s = 0; s < d->sides; ++s) {
        float *row = s == 0 ? out : other;
        if (d->project) {
            const lp_tap t = d->ty2[y];
            blend_rows(heat2_hrow(d, s, j, t.lo), heat2_hrow(d, s, j, t.hi), t.wlo, t.whi, d->gw, 0, row);
        } else {
            stride2_heat_row(d, w, s, j, y, row);
        }
    }
    if (d->sides == 2)
        for (int x = 0; x < d->gw; ++x) out[x] = (out[x] + other[x]) / 2.0f;
    d->heat_ready[id] = 1;
    return out;
}

static float heat_at(lp_decoder *d, lp_work *w, int j, int y, int x) { return heat_row(d, w, j, y)[x]; }

static void column_extrema(const float *map, int w, int r0, int r1, float *cmax, float *cmin);

/* Extrema of one row of w values. Where a NaN is involved the bound may or may not see it. */
static void row_extrema(const float *row, int w, float *hi_out, float *lo_out) {
    float hi = row[0], lo = row[0];
    int x = 0;
#if defined(LP_V4)
    if (w >= 4) {
        lp_v4 vhi = v4_load(row), vlo = vhi, vhi2 = vhi, vlo2 = vhi; /* two chains: twice the throughput */
        for (x = 4; x + 8 <= w; x += 8) {
            const lp_v4 v = v4_load(row + x), v2 = v4_load(row + x + 4);
            vhi = v4_max(v, vhi);
            vlo = v4_min(v, vlo);
            vhi2 = v4_max(v2, vhi2);
            vlo2 = v4_min(v2, vlo2);
        }
        for (; x + 4 <= w; x += 4) {
            const lp_v4 v = v4_load(row + x);
            vhi = v4_max(v, vhi);
            vlo = v4_min(v, vlo);
        }
        vhi = v4_max(vhi2, vhi);
        vlo = v4_min(vlo2, vlo);
        float h4[4], l4[4];
        v4_store(h4, vhi);
        v4_store(l4, vlo);
        for (int k = 0; k < 4; ++k) {
            hi = h4[k] > hi ? h4[k] : hi;
            lo = l4[k] < lo ? l4[k] : lo;
        }
    }
#endif
    for (; x < w; ++x) {
        hi = row[x] > hi ? row[x] : hi;
        lo = row[x] < lo ? row[x] : lo;
    }
    *hi_out = hi;
    *lo_out = lo;
}

/* Row maxima (rmax) and largest magnitudes (rabs) of a [h, w] map. */
static void row_maxima(const float *map, int h, int w, float *rmax, float *rabs) {
    for (int y = 0; y < h; ++y) {
        float hi, lo;
        row_extrema(map + (size_t)y * w, w, &hi, &lo);
        rmax[y] = hi;
        rabs[y] = fabsf(hi) > fabsf(lo) ? fabsf(hi) : fabsf(lo);
    }
}

/* The largest float32 <= the detection threshold: float32 v > it exactly when v > the threshold. */
static float threshold_floor(const lp_decoder *d) {
    float thr = (float)d->cfg->detection_threshold;
    if ((double)thr > d->cfg->detection_threshold) thr = nextafterf(thr, -INFINITY);
    return thr;
}

/* Marks the heatmap rows that can hold a pixel above the threshold (`above`) and computes them:
 * an upsampled pixel is a convex combination of the two source rows it reads, so their maxima
 * bound it, up to a few float32 roundings of the largest magnitude involved (the margin). At
 * stride 2 the bound comes straight from the stage outputs, and a row above is computed at once,
 * while its stage-2 row is in the cache; projected, the stride-2 heatmaps are computed whole and
 * bound the rows upsampled from them. Rows left out hold no pixel above the threshold: none can
 * be a candidate or beat one in the NMS window. */
static void mark_rows_above(lp_decoder *d, lp_work *w, int j) {
    const int J = d->J, gh = d->gh, h1 = d->h1, n = d->h2;
    const double thr = d->cfg->detection_threshold;
    if (!d->project && d->whole_heat[j]) { /* the refine step will want every row: no bounds */
        const float floor = threshold_floor(d);
        for (int y = 0; y < gh; ++y) {
            const float *row = heat_row(d, w, j, y);
            int above = 0;
            for (int x = 0; x < d->gw; ++x) above |= !(row[x] <= floor); /* NaN counts as above */
            d->above[(size_t)j * gh + y] = (uint8_t)above;
        }
        return;
    }
    float *r1 = w->rmax; /* [sides][rows]: row maxima, then [sides][rows] magnitudes */
    float *a1 = r1 + 2 * (size_t)n;
    const int src_rows = d->project ? n : h1;
    for (int s = 0; s < d->sides; ++s) {
        if (d->project) {
            float *map = d->heat2 + ((size_t)s * J + j) * plane(d->h2, d->w2);
            for (int y = 0; y < d->h2; ++y) stride2_heat_row(d, w, s, j, y, map + (size_t)y * d->w2);
            row_maxima(map, n, d->w2, r1 + (size_t)s * n, a1 + (size_t)s * n);
        } else {
            const int c = source_joint(d, s, j);
            row_maxima(d->stage1[s] + (size_t)c * plane(h1, d->w1), h1, d->w1, r1 + (size_t)s * src_rows,
                       a1 + (size_t)s * src_rows);
        }
    }
    const lp_tap *ty = d->project ? d->ty2 : d->ty1;
    for (int y = 0; y < gh; ++y) {
        double bound = 0.0, scale = fabs(thr);
        for (int s = 0; s < d->sides; ++s) {
            const float *rm = r1 + (size_t)s * src_rows, *ra = a1 + (size_t)s * src_rows;
            double b = rm[ty[y].lo] > rm[ty[y].hi] ? rm[ty[y].lo] : rm[ty[y].hi];
            scale += ra[ty[y].lo] > ra[ty[y].hi] ? ra[ty[y].lo] : ra[ty[y].hi];
            if (!d->project) { /* (upsampled stage 1 + stage 2) / 2 */
                float hi2, lo2;
                row_extrema(d->stage2[s] + ((size_t)source_joint(d, s, j) * n + y) * d->w2, d->w2, &hi2, &lo2);
                b = (b + hi2) / 2.0;
                scale += fabsf(hi2) > fabsf(lo2) ? fabsf(hi2) : fabsf(lo2);
            }
            bound += b;
        }
        bound /= d->sides;
        /* NaN bounds (NaN outputs) count as above: such rows are computed and compared */
        const int above = !(bound <= thr - 32.0 * FLT_EPSILON * scale);
        d->above[(size_t)j * gh + y] = (uint8_t)above;
        if (above && !d->project) heat_row(d, w, j, y);
    }
}

/* ------------------------------------------------------------------------ tags */
/* Stride-2 tag of joint j on side s at pixel (y, x), from the four stage-1 samples it reads. */
static float stride2_tag_at(const lp_decoder *d, int s, int j, int y, int x) {
    const int c = d->J + source_joint(d, s, j);
    const float *map = d->stage1[s] + (size_t)c * plane(d->h1, d->w1);
    const lp_tap cy = d->ty1[y], cx = d->tx1[s == 0 ? x : d->w2 - 1 - x];
    const float *a = map + (size_t)cy.lo * d->w1, *b = map + (size_t)cy.hi * d->w1;
    const float top = a[cx.lo] * cx.wlo + a[cx.hi] * cx.whi;
    const float bottom = b[cx.lo] * cx.wlo + b[cx.hi] * cx.whi;
    return top * cy.wlo + bottom * cy.whi;
}

/* Tag of joint j, side s, at grouping-resolution pixel (y, x), bit for bit the whole maps'. */
static float tag_at(const lp_decoder *d, int s, int j, int y, int x) {
    if (!d->project) return stride2_tag_at(d, s, j, y, x);
    const lp_tap cy = d->ty2[y], cx = d->tx2[x];
    const float top = stride2_tag_at(d, s, j, cy.lo, cx.lo) * cx.wlo + stride2_tag_at(d, s, j, cy.lo, cx.hi) * cx.whi;
    const float bottom =
        stride2_tag_at(d, s, j, cy.hi, cx.lo) * cx.wlo + stride2_tag_at(d, s, j, cy.hi, cx.hi) * cx.whi;
    return top * cy.wlo + bottom * cy.whi;
}

/* Whole stride-2 tag maps of joint j (both sides, mirrored on the flipped one): what the
 * projected refine step's tags are upsampled from. */
static void ensure_tag_maps(lp_decoder *d, lp_work *work, int j) {
    if (d->tags_ready[j]) return;
    const int J = d->J, w2 = d->w2;
    for (int s = 0; s < d->sides; ++s) {
        const int c = J + source_joint(d, s, j);
        float *out = d->tags + ((size_t)s * J + j) * plane(d->h2, w2);
        for (int y = 0; y < d->h2; ++y) {
            const lp_tap t = d->ty1[y];
            blend_rows(stage1_hrow(d, work, s, c, t.lo), stage1_hrow(d, work, s, c, t.hi), t.wlo, t.whi, w2, s == 1,
                       out + (size_t)y * w2);
        }
    }
    d->tags_ready[j] = 1;
}

/* ------------------------------------------------------------------------ candidates */
/* Whether heat[y, x] equals the maximum of its kernel x kernel window (-inf outside). Rows
 * not marked above cannot hold a larger value than a pixel above the threshold. */
static int window_max_is(lp_decoder *d, lp_work *w, int j, int y, int x, float v, int pad);

static int is_peak(lp_decoder *d, lp_work *w, int j, int y, int x, float v, int pad) {
    /* the 3x3 neighbourhood first: on the slopes of a peak a neighbour is larger */
    return (pad <= 1 || window_max_is(d, w, j, y, x, v, 1)) && window_max_is(d, w, j, y, x, v, pad);
}

static int window_max_is(lp_decoder *d, lp_work *w, int j, int y, int x, float v, int pad) {
    const int y0 = y - pad < 0 ? 0 : y - pad, y1 = y + pad >= d->gh ? d->gh - 1 : y + pad;
    const int x0 = x - pad < 0 ? 0 : x - pad, x1 = x + pad >= d->gw ? d->gw - 1 : x + pad;
    for (int yy = y0; yy <= y1; ++yy) {
        if (!d->above[(size_t)j * d->gh + yy]) continue;
        const float *row = heat_row(d, w, j, yy);
        for (int xx = x0; xx <= x1; ++xx)
            if (!(row[xx] <= v)) return 0; /* a larger value, or NaN as the max-pool's */
    }
    return 1;
}

/* Per joint: NMS peaks above the threshold, best first (ties: lower flat index first), at most
 * max_num_people, with their tags. */
static void find_candidates(lp_decoder *d, lp_work *w, int j) {
    const lp_config *cfg = d->cfg;
    const int K = cfg->max_num_people, pad = cfg->nms_kernel / 2;
    const float thr = threshold_floor(d);
#if defined(LP_V4)
    const lp_v4 threshold = v4_set1(thr);
#endif
    {
        lp_candidate *best = d->cands + (size_t)j * K;
        int n = 0;
        for (int y = 0; y < d->gh; ++y) {
            if (!d->above[(size_t)j * d->gh + y]) continue;
            const float *row = heat_row(d, w, j, y);
            for (int x = 0; x < d->gw; ++x) {
                if ((x & 7) == 0 && x + 8 <= d->gw) { /* skip 8 pixels at a time below the threshold */
#if defined(LP_V4)
                    const int any = v4_any_greater(v4_load(row + x), v4_load(row + x + 4), threshold);
#else
                    int any = 0;
                    for (int k = 0; k < 8; ++k) any |= row[x + k] > thr;
#endif
                    if (!any) {
                        x += 7;
                        continue;
                    }
                }
                const float v = row[x];
                if (!(v > thr)) continue;
                /* the row neighbours first (part of the window test below): on a peak's slopes one
                 * of them is larger */
                if ((x > 0 && !(row[x - 1] <= v)) || (x + 1 < d->gw && !(row[x + 1] <= v))) continue;
                if (n == K && !(v > best[K - 1].value)) continue; /* equal: the earlier pixel stays */
                if (!is_peak(d, w, j, y, x, v, pad)) continue;
                int at = n < K ? n : K - 1; /* after every value >= v */
                while (at > 0 && best[at - 1].value < v) {
                    best[at] = best[at - 1];
                    --at;
                }
                best[at].x = x;
                best[at].y = y;
                best[at].value = v;
                if (n < K) ++n;
            }
        }
        for (int i = 0; i < n; ++i)
            for (int s = 0; s < d->sides; ++s) best[i].tag[s] = tag_at(d, s, j, best[i].y, best[i].x);
        d->cand_count[j] = n;
    }
}

/* ------------------------------------------------------------------------ assignment */
/* Minimum-cost assignment of a rectangular nr x nc cost matrix (row-major), every
 * min(nr, nc) pair matched: the shortest augmenting path algorithm of Crouse (2016), in the
 * form scipy's linear_sum_assignment implements (same search order and tie rules), so that
 * both pick the same optimum among exact ties. row_to_col[r] = column or -1. */
static int solve_assignment(const double *cost_in, int nr_in, int nc_in, int *row_to_col, lp_buf *work) {
    if (nr_in <= 0 || nc_in <= 0) return LP_ERR_ARGS;
    const int transpose = nc_in < nr_in;
    const int nr = transpose ? nc_in : nr_in, nc = transpose ? nr_in : nc_in;
    const size_t need = sizeof(double) * ((size_t)nr * nc + (size_t)nr + 2 * (size_t)nc) +
                        sizeof(int) * (3 * (size_t)nc + (size_t)nr) + (size_t)nr + (size_t)nc;
    char *p = (char *)buf_get(work, need);
    if (!p) return LP_ERR_NOMEM;
    double *cost = (double *)p;
    double *u = cost + (size_t)nr * nc, *v = u + nr, *shortest = v + nc;
    int *path = (int *)(shortest + nc), *col4row = path + nc, *row4col = col4row + nr, *remaining = row4col + nc;
    char *SR = (char *)(remaining + nc), *SC = SR + nr;
    for (int i = 0; i < nr; ++i)
        for (int j = 0; j < nc; ++j)
            cost[(size_t)i * nc + j] = transpose ? cost_in[(size_t)j * nc_in + i] : cost_in[(size_t)i * nc_in + j];
    for (int i = 0; i < nr; ++i) { u[i] = 0; col4row[i] = -1; }
    for (int j = 0; j < nc; ++j) { v[j] = 0; path[j] = -1; row4col[j] = -1; }
    for (int cur = 0; cur < nr; ++cur) {
        double min_val = 0;
        int i = cur, sink = -1, num_remaining = nc;
        for (int it = 0; it < nc; ++it) remaining[it] = nc - it - 1;
        memset(SR, 0, (size_t)nr);
        memset(SC, 0, (size_t)nc);
        for (int j = 0; j < nc; ++j) shortest[j] = INFINITY;
        while (sink == -1) {
            int index = -1;
            double lowest = INFINITY;
            SR[i] = 1;
            for (int it = 0; it < num_remaining; ++it) {
                const int j = remaining[it];
                const double r = min_val + cost[(size_t)i * nc + j] - u[i] - v[j];
                if (r < shortest[j]) {
                    path[j] = i;
                    shortest[j] = r;
                }
                if (shortest[j] < lowest || (shortest[j] == lowest && row4col[j] == -1)) {
                    lowest = shortest[j];
                    index = it;
                }
            }
            min_val = lowest;
            if (min_val == INFINITY || index < 0) return LP_ERR_NONFINITE;
            const int j = remaining[index];
            if (row4col[j] == -1)
                sink = j;
            else
                i = row4col[j];
            SC[j] = 1;
            remaining[index] = remaining[--num_remaining];
        }
        u[cur] += min_val;
        for (int r = 0; r < nr; ++r)
            if (SR[r] && r != cur) u[r] += min_val - shortest[col4row[r]];
        for (int c = 0; c < nc; ++c)
            if (SC[c]) v[c] -= min_val - shortest[c];
        for (int j = sink;;) {
            const int r = path[j];
            row4col[j] = r;
            const int previous = col4row[r];
            col4row[r] = j;
            j = previous;
            if (r == cur) break;
        }
    }
    for (int r = 0; r < nr_in; ++r) row_to_col[r] = -1;
    if (transpose) {
        for (int i = 0; i < nr; ++i) row_to_col[col4row[i]] = i;
    } else {
        for (int i = 0; i < nr; ++i) row_to_col[i] = col4row[i];
    }
    return LP_OK;
}

/* ------------------------------------------------------------------------ grouping */
static float *group_joint(lp_decoder *d, int g, int j) {
    return d->group_joints + ((size_t)g * d->cfg->num_joints + j) * JSTRIDE;
}

static void set_joint(lp_decoder *d, int g, int j, const lp_candidate *c) {
    float *o = group_joint(d, g, j);
    o[0] = (float)c->x;
    o[1] = (float)c->y;
    o[2] = c->value;
    o[3] = c->tag[0];
    o[4] = d->sides == 2 ? c->tag[1] : 0.0f;
}

/* A joint that joins no person starts one, keyed by its first tag value; a person already
 * keyed by that value takes the joint instead and restarts its tag list (the reference's
 * dict semantics). */
static int start_person(lp_decoder *d, int j, const lp_candidate *c) {
    const double key = (double)c->tag[0];
    int g = -1;
    for (int i = 0; i < d->num_groups; ++i)
        if (d->groups[i].key == key) {
            g = i;
            break;
        }
    if (g < 0) {
        if (d->num_groups >= d->group_capacity) return LP_ERR_CAPACITY;
        g = d->num_groups++;
        memset(group_joint(d, g, 0), 0, sizeof(float) * JSTRIDE * (size_t)d->cfg->num_joints);
        d->groups[g].key = key;
    }
    set_joint(d, g, j, c);
    for (int s = 0; s < 2; ++s) d->groups[g].tag_sum[s] = s < d->sides ? (double)c->tag[s] : 0.0;
    d->groups[g].tag_count = 1;
    return LP_OK;
}

static void add_to_person(lp_decoder *d, int g, int j, const lp_candidate *c) {
    set_joint(d, g, j, c);
    for (int s = 0; s < d->sides; ++s) d->groups[g].tag_sum[s] += (double)c->tag[s];
    d->groups[g].tag_count += 1;
}

/* One joint's candidates against the first max_num_people people. */
static int match_joint(lp_decoder *d, int j) {
    const lp_config *cfg = d->cfg;
    const int n = d->cand_count[j], K = cfg->max_num_people;
    const int m = d->num_groups < K ? d->num_groups : K;
    const lp_candidate *cands = d->cands + (size_t)j * K;
    if (cfg->ignore_too_much && m == K) return LP_OK;
    double *dist = (double *)buf_get(&d->buf_match, sizeof(double) * 2 * (size_t)n * m + sizeof(int) * (size_t)n);
    if (!dist) return LP_ERR_NOMEM;
    double *cost = dist + (size_t)n * m;
    int *partner = (int *)(cost + (size_t)n * m);
    for (int g = 0; g < m; ++g) {
        double mean[2];
        for (int s = 0; s < d->sides; ++s) mean[s] = d->groups[g].tag_sum[s] / (double)d->groups[g].tag_count;
        for (int r = 0; r < n; ++r) {
            double sq = 0.0;
            for (int s = 0; s < d->sides; ++s) {
                const double diff = (double)cands[r].tag[s] - mean[s];
                sq = s == 0 ? diff * diff : sq + diff * diff;
            }
            const double dd = sqrt(sq);
            const double tie = 1e-7 * (dd / (1.0 + dd));
            dist[(size_t)r * m + g] = dd;
            cost[(size_t)r * m + g] =
                cfg->use_detection_val ? nearbyint(dd) * 100.0 - (double)cands[r].value + tie : dd + tie;
            if (!isfinite(cost[(size_t)r * m + g])) return LP_ERR_NONFINITE;
        }
    }
    int err = solve_assignment(cost, n, m, partner, &d->buf_lsap);
    if (err) return err;
    /* Rows in order: a start can restart a person matched by a later (or earlier) row. */
    for (int r = 0; r < n; ++r) {
        const int g = partner[r];
        if (g >= 0 && dist[(size_t)r * m + g] < cfg->tag_threshold)
            add_to_person(d, g, j, &cands[r]);
        else if ((err = start_person(d, j, &cands[r])))
            return err;
    }
    return LP_OK;
}

static int group_people(lp_decoder *d) {
    const lp_config *cfg = d->cfg;
    const int J = cfg->num_joints;
    int total = 0;
    for (int j = 0; j < J; ++j) total += d->cand_count[j];
    d->group_capacity = total > 0 ? total : 1;
    d->groups = (lp_group *)buf_get(&d->buf_groups, sizeof(lp_group) * (size_t)d->group_capacity);
    d->group_joints =
        (float *)buf_get(&d->buf_gjoints, sizeof(float) * JSTRIDE * (size_t)J * (size_t)d->group_capacity);
    if (!d->groups || !d->group_joints) return LP_ERR_NOMEM;
    d->num_groups = 0;
    for (int i = 0; i < J; ++i) {
        const int j = cfg->joint_order[i];
        const int n = d->cand_count[j];
        const lp_candidate *cands = d->cands + (size_t)j * cfg->max_num_people;
        if (n == 0) continue;
        int err = LP_OK;
        if (i == 0 || d->num_groups == 0) {
            for (int r = 0; r < n && !err; ++r) err = start_person(d, j, &cands[r]);
        } else {
            err = match_joint(d, j);
        }
        if (err) return err;
    }
    return LP_OK;
}

/* ------------------------------------------------------------------------ adjust / refine */
/* Pixel centre plus a quarter pixel toward the larger neighbour (ties go down/left). */
static void quarter_offset(lp_decoder *d, lp_work *work, int j, int x, int y, float *ox, float *oy) {
    const int h = d->gh, w = d->gw;
    const float *row = heat_row(d, work, j, y);
    const float right = row[x + 1 < w ? x + 1 : w - 1], left = row[x - 1 > 0 ? x - 1 : 0];
    const float down = heat_at(d, work, j, y + 1 < h ? y + 1 : h - 1, x);
    const float up = heat_at(d, work, j, y - 1 > 0 ? y - 1 : 0, x);
    *ox = (float)(x + 0.5 + (right > left ? 0.25 : -0.25));
    *oy = (float)(y + 0.5 + (down > up ? 0.25 : -0.25));
}

/* Column-wise extrema of rows [r0, r1] of a [h, w] map. */
static void column_extrema(const float *map, int w, int r0, int r1, float *cmax, float *cmin) {
    for (int x = 0; x < w; ++x) cmax[x] = cmin[x] = map[(size_t)r0 * w + x];
    for (int y = r0 + 1; y <= r1; ++y) {
        const float *row = map + (size_t)y * w;
        int x = 0;
#if defined(LP_V4)
        for (; x + 4 <= w; x += 4) {
            const lp_v4 v = v4_load(row + x);
            v4_store(cmax + x, v4_max(v, v4_load(cmax + x)));
            v4_store(cmin + x, v4_min(v, v4_load(cmin + x)));
        }
#endif
        for (; x < w; ++x) {
            cmax[x] = row[x] > cmax[x] ? row[x] : cmax[x];
            cmin[x] = row[x] < cmin[x] ? row[x] : cmin[x];
        }
    }
}

/* A map that grouping-resolution pixels are upsampled from: pixel (y, x) reads source rows
 * rows[y].lo..hi and columns likewise, after mirroring x for the flip test's stage-1 tags
 * (stored unmirrored). */
typedef struct {
    const float *map;
    int width;
    const lp_tap *rows, *cols;
    int mirror;
} lp_source;

/* What side s's tags of joint j at the grouping resolution are upsampled from: the stage-1
 * outputs at stride 2 (mirrored on the flipped side), the whole stride-2 tags when projecting. */
static lp_source tag_source(const lp_decoder *d, int s, int j) {
    lp_source src = {NULL, d->w2, d->ty2, d->tx2, 0};
    if (d->project) {
        src.map = d->tags + ((size_t)s * d->J + j) * plane(d->h2, d->w2);
    } else {
        src = (lp_source){d->stage1[s] + (size_t)(d->J + source_joint(d, s, j)) * plane(d->h1, d->w1), d->w1,
                          d->ty1, d->tx1, s == 1};
    }
    return src;
}

/* What side s's projected heatmap of joint j is upsampled from: its stride-2 heatmap. */
static lp_source heat2_source(const lp_decoder *d, int s, int j) {
    const lp_source heat2 = {d->heat2 + ((size_t)s * d->J + j) * plane(d->h2, d->w2), d->w2, d->ty2, d->tx2, 0};
    return heat2;
}

/* Per tile: the extrema of the source pixels its pixels read (tile_hi / tile_lo [tile_count]). */
static void tile_extrema(lp_decoder *d, lp_work *w, const lp_source *src, float *tile_hi, float *tile_lo) {
    const int b = d->tile_size;
    float *cmax = w->colstats, *cmin = cmax + src->width;
    for (int ty = 0; ty * b < d->gh; ++ty) {
        const int y0 = ty * b, y1 = (y0 + b < d->gh ? y0 + b : d->gh) - 1;
        const int r0 = src->rows[y0].lo, r1 = src->rows[y1].hi;
        column_extrema(src->map, src->width, r0, r1, cmax, cmin);
        for (int tx = 0; tx * b < d->gw; ++tx) {
            int x0 = tx * b, x1 = (x0 + b < d->gw ? x0 + b : d->gw) - 1;
            if (src->mirror) {
                const int m0 = d->gw - 1 - x1;
                x1 = d->gw - 1 - x0;
                x0 = m0;
            }
            const int c0 = src->cols[x0].lo, c1 = src->cols[x1].hi;
            float hi = cmax[c0], lo = cmin[c0];
            for (int c = c0 + 1; c <= c1; ++c) {
                hi = cmax[c] > hi ? cmax[c] : hi;
                lo = cmin[c] < lo ? cmin[c] : lo;
            }
            tile_hi[ty * d->tiles_per_row + tx] = hi;
            tile_lo[ty * d->tiles_per_row + tx] = lo;
        }
    }
}

/* Per tile: the maximum of a [gh, gw] map at the grouping resolution (where a NaN is involved
 * it may or may not see it). A full tile's 8 columns stay in two vector registers. */
static void tile_maxima(const lp_decoder *d, const float *map, float *tile_max) {
    const int b = d->tile_size, w = d->gw;
    for (int ty = 0; ty * b < d->gh; ++ty) {
        const int y0 = ty * b, y1 = y0 + b < d->gh ? y0 + b : d->gh;
        for (int tx = 0; tx * b < w; ++tx) {
            const int x0 = tx * b, x1 = x0 + b < w ? x0 + b : w;
            float hi = map[(size_t)y0 * w + x0];
            int y = y0;
#if defined(LP_V4)
            if (x1 - x0 == LP_TILE) {
                const float *top = map + (size_t)y0 * w + x0;
                lp_v4 hi_a = v4_load(top), hi_b = v4_load(top + 4);
                for (y = y0 + 1; y < y1; ++y) {
                    const float *row = map + (size_t)y * w + x0;
                    hi_a = v4_max(v4_load(row), hi_a);
                    hi_b = v4_max(v4_load(row + 4), hi_b);
                }
                float his[4];
                v4_store(his, v4_max(hi_b, hi_a));
                for (int k = 0; k < 4; ++k) hi = his[k] > hi ? his[k] : hi;
            }
#endif
            for (; y < y1; ++y) {
                const float *row = map + (size_t)y * w;
                for (int x = x0; x < x1; ++x) hi = row[x] > hi ? row[x] : hi;
            }
            tile_max[ty * d->tiles_per_row + tx] = hi;
        }
    }
}

static float magnitude(float hi, float lo) { return fabsf(hi) > fabsf(lo) ? fabsf(hi) : fabsf(lo); }

/* Whether every heatmap row of joint j is computed. */
static int heat_whole(const lp_decoder *d, int j) {
    for (int y = 0; y < d->gh; ++y)
        if (!d->heat_ready[(size_t)j * d->gh + y]) return 0;
    return 1;
}

/* Per tile of joint j: an upper bound of the heat and each tag dimension's range (the refine
 * step's bounds). The heat maximum is exact from the whole heatmap at stride 2 (cheap there) or
 * where the candidate search computed it anyway; else it, and the tag ranges always, come from
 * the pixels the tile's pixels are blended from: a blend lies within its inputs, up to a few
 * float32 roundings of the largest magnitude involved (the margin). So the tags, and projected
 * heat, are computed only in the tiles scanned. */
static void ensure_tiles(lp_decoder *d, lp_work *w, int j) {
    if (d->tiles_ready[j]) return;
    d->whole_heat[j] = !d->project; /* every row at stride 2 (below): the next frame's first step may
                                     * compute them at once */
    const int T = d->tile_count;
    const size_t ng = plane(d->gh, d->gw);
    lp_tile *tiles = d->tiles + (size_t)j * T;
    float *hi = w->tilework, *lo = hi + T, *scale = lo + T;
    if (!d->project)
        for (int y = 0; y < d->gh; ++y) heat_row(d, w, j, y);
    if (d->heat_max_ready[j]) { /* rows_and_candidates found them */
    } else if (!d->project || heat_whole(d, j)) {
        tile_maxima(d, d->heat + (size_t)j * ng, hi);
        for (int i = 0; i < T; ++i) tiles[i].heat_max = hi[i];
    } else {
        for (int i = 0; i < T; ++i) tiles[i].heat_max = scale[i] = 0.0f;
        for (int s = 0; s < d->sides; ++s) { /* each side's stride-2 heatmap */
            const lp_source heat = heat2_source(d, s, j);
            tile_extrema(d, w, &heat, hi, lo);
            for (int i = 0; i < T; ++i) {
                tiles[i].heat_max += hi[i];
                scale[i] = scale[i] > magnitude(hi[i], lo[i]) ? scale[i] : magnitude(hi[i], lo[i]);
            }
        }
        for (int i = 0; i < T; ++i)
            tiles[i].heat_max = tiles[i].heat_max / (float)d->sides + 32.0f * FLT_EPSILON * scale[i];
    }
    /* Tag ranges from the pixels the tags are blended from: the stage-1 outputs at stride 2
     * (the scanned tiles' tags are computed per tile), the whole stride-2 tags projected. */
    if (d->project) ensure_tag_maps(d, w, j);
    for (int s = 0; s < d->sides; ++s) {
        const lp_source tag = tag_source(d, s, j);
        tile_extrema(d, w, &tag, hi, lo);
        for (int i = 0; i < T; ++i) {
            const float margin = 16.0f * FLT_EPSILON * magnitude(hi[i], lo[i]);
            tiles[i].tag_lo[s] = lo[i] - margin;
            tiles[i].tag_hi[s] = hi[i] + margin;
        }
    }
    /* super tiles (SUPER x SUPER tiles): the union of their tiles' bounds */
    const int per_row = d->tiles_per_row, rows = (T + per_row - 1) / per_row;
    const int supers_per_row = (per_row + SUPER - 1) / SUPER;
    lp_tile *supers = d->supers + (size_t)j * d->super_count;
    for (int ty = 0; ty < rows; ++ty)
        for (int tx = 0; tx < per_row; ++tx) {
            const lp_tile *t = &tiles[ty * per_row + tx];
            lp_tile *u = &supers[ty / SUPER * supers_per_row + tx / SUPER];
            if (ty % SUPER == 0 && tx % SUPER == 0) {
                *u = *t;
                continue;
            }
            u->heat_max = t->heat_max > u->heat_max ? t->heat_max : u->heat_max;
            for (int s = 0; s < d->sides; ++s) {
                u->tag_lo[s] = t->tag_lo[s] < u->tag_lo[s] ? t->tag_lo[s] : u->tag_lo[s];
                u->tag_hi[s] = t->tag_hi[s] > u->tag_hi[s] ? t->tag_hi[s] : u->tag_hi[s];
            }
        }
    d->tiles_ready[j] = 1;
}

/* heat - round(|tag - person_tag|) in float32, as the reference computes it. */
static float refine_value(float heat, const float *tag, const float *person_tag, int sides) {
    const float d0 = tag[0] - person_tag[0];
    float sq = d0 * d0;
    if (sides == 2) {
        const float d1 = tag[1] - person_tag[1];
        sq = sq + d1 * d1;
    }
    return heat - round_even(sqrtf(sq));
}

/* refine_value of n <= LP_TILE pixels in a row into values; 0 when none reaches `reach` (so the
 * caller may skip the row; NaN values reach nothing, as they win no comparison). */
static int refine_values(const float *heat, const float *tag0, const float *tag1, const float *person_tag, int sides,
                         int n, float reach, float *values) {
#if defined(LP_V4_MATH)
    if (n == LP_TILE) {
        const lp_v4 p0 = v4_set1(person_tag[0]), p1 = v4_set1(sides == 2 ? person_tag[1] : 0.0f);
        const lp_v4 big = v4_set1(8388608.0f); /* round_even, four at a time */
        lp_v4 top = v4_set1(-INFINITY);
        for (int x = 0; x < LP_TILE; x += 4) {
            const lp_v4 d0 = v4_sub(v4_load(tag0 + x), p0);
            lp_v4 sq = v4_mul(d0, d0);
            if (sides == 2) {
                const lp_v4 d1 = v4_sub(v4_load(tag1 + x), p1);
                sq = v4_add(sq, v4_mul(d1, d1));
            }
            const lp_v4 distance = v4_sqrt(sq);
            const lp_v4 rounded = v4_select(v4_less(distance, big), v4_sub(v4_add(distance, big), big), distance);
            const lp_v4 value = v4_sub(v4_load(heat + x), rounded);
            v4_store(values + x, value);
            top = v4_max(value, top); /* a NaN value leaves top as it was */
        }
        float tops[4];
        v4_store(tops, top);
        return tops[0] >= reach || tops[1] >= reach || tops[2] >= reach || tops[3] >= reach;
    }
#endif
    int any = 0;
    for (int x = 0; x < n; ++x) {
        float tag[2];
        tag[0] = tag0[x];
        tag[1] = sides == 2 ? tag1[x] : 0.0f;
        values[x] = refine_value(heat[x], tag, person_tag, sides);
        any |= values[x] >= reach;
    }
    return any;
}

/* The largest refine value a tile can hold: its heat bound less the rounded distance of the
 * tag range's nearest point. Every float32 step of refine_value is monotonic and the range holds
 * every tag of the tile, so no pixel's value exceeds it. */
static float tile_bound(const lp_tile *t, const float *person_tag, int sides) {
    float near[2] = {0.0f, 0.0f};
    for (int s = 0; s < sides; ++s) {
        const float p = person_tag[s];
        near[s] = p < t->tag_lo[s] ? t->tag_lo[s] - p : (p > t->tag_hi[s] ? p - t->tag_hi[s] : 0.0f);
    }
    float sq = near[0] * near[0];
    if (sides == 2) sq = sq + near[1] * near[1];
    return t->heat_max - round_even(sqrtf(sq));
}

/* Rows y0..y1-1, columns x0..x1-1 (at most LP_TILE each) of the grouping-resolution map that
 * `src` is upsampled to, into out (row stride `stride`), bit for bit the whole map's: each source
 * row's horizontal pass once, then the vertical blend. */
static void upsample_tile(const lp_decoder *d, const lp_source *src, int y0, int y1, int x0, int x1, float *out,
                          size_t stride) {
    const int n = x1 - x0, r0 = src->rows[y0].lo, r1 = src->rows[y1 - 1].hi; /* taps' rows never decrease */
    float pass[(LP_TILE / 2 + 3) * LP_TILE]; /* rows r0..r1 after the horizontal pass */
    for (int r = r0; r <= r1; ++r) {
        const float *row = src->map + (size_t)r * src->width;
        for (int x = 0; x < n; ++x) {
            const lp_tap cx = src->cols[src->mirror ? d->gw - 1 - (x0 + x) : x0 + x];
            pass[(r - r0) * LP_TILE + x] = row[cx.lo] * cx.wlo + row[cx.hi] * cx.whi;
        }
    }
    for (int y = y0; y < y1; ++y) {
        const lp_tap cy = src->rows[y];
        const float *top = pass + (cy.lo - r0) * LP_TILE, *bottom = pass + (cy.hi - r0) * LP_TILE;
        float *o = out + (size_t)(y - y0) * stride;
        for (int x = 0; x < n; ++x) o[x] = top[x] * cy.wlo + bottom[x] * cy.whi;
    }
}

/* The heat and tags of one tile of joint j at the grouping resolution, bit for bit the whole
 * maps' (into d->heat and d->gtags), computed once per tile. */
static void ensure_tile_values(lp_decoder *d, lp_work *work, int j, int tile) {
    uint8_t *filled = d->tile_filled + (size_t)j * d->tile_count + tile;
    if (*filled) return;
    const int h = d->gh, w = d->gw, b = d->tile_size, J = d->J;
    const int y0 = tile / d->tiles_per_row * b, x0 = tile % d->tiles_per_row * b;
    const int y1 = y0 + b < h ? y0 + b : h, x1 = x0 + b < w ? x0 + b : w;
    const size_t ng = plane(h, w);
    for (int s = 0; s < d->sides; ++s) {
        const lp_source tags = tag_source(d, s, j);
        upsample_tile(d, &tags, y0, y1, x0, x1, d->gtags + ((size_t)s * J + j) * ng + (size_t)y0 * w + x0, (size_t)w);
    }
    if (!d->project) { /* whole heat rows are cheap at stride 2 */
        for (int y = y0; y < y1; ++y) heat_row(d, work, j, y);
    } else {
        float side[2][LP_TILE * LP_TILE]; /* each side's projected heat: (side 0 + side 1) / 2 */
        for (int s = 0; s < d->sides; ++s) {
            const lp_source heat2 = heat2_source(d, s, j);
            upsample_tile(d, &heat2, y0, y1, x0, x1, side[s], LP_TILE);
        }
        for (int y = y0; y < y1; ++y) {
            if (d->heat_ready[(size_t)j * h + y]) continue; /* computed whole already (the same values) */
            float *heat = d->heat + ((size_t)j * h + y) * w + x0;
            const float *a = side[0] + (y - y0) * LP_TILE, *c = side[1] + (y - y0) * LP_TILE;
            for (int x = 0; x < x1 - x0; ++x) heat[x] = d->sides == 2 ? (a[x] + c[x]) / 2.0f : a[x];
        }
    }
    *filled = 1;
}

/* Scans one tile, updating the first (row-major) pixel of the largest value. */
static void scan_tile(lp_decoder *d, lp_work *work, int j, int tile, const float *person_tag, float *best,
                      int *best_pixel) {
    const int h = d->gh, w = d->gw, b = d->tile_size, J = d->J;
    const int y0 = tile / d->tiles_per_row * b, x0 = tile % d->tiles_per_row * b;
    const int y1 = y0 + b < h ? y0 + b : h, x1 = x0 + b < w ? x0 + b : w;
    const size_t ng = plane(h, w);
    ensure_tile_values(d, work, j, tile);
    const float *heat = d->heat + (size_t)j * ng;
    const float *tag0 = d->gtags + (size_t)j * ng, *tag1 = d->gtags + ((size_t)J + j) * ng;
    for (int y = y0; y < y1; ++y) {
        const int p0 = y * w + x0, n = x1 - x0;
        float values[LP_TILE];
        if (!refine_values(heat + p0, tag0 + p0, tag1 + p0, person_tag, d->sides, n, *best, values) && *best_pixel >= 0)
            continue; /* no pixel of this tile row reaches the best value */
        for (int x = 0; x < n; ++x) {
            const float value = values[x];
            if (*best_pixel < 0 || value > *best || (value == *best && p0 + x < *best_pixel)) {
                *best = value;
                *best_pixel = p0 + x;
            }
        }
    }
}

/* First (row-major) pixel of joint j maximising heat - round(|tag - person_tag|): the tile with
 * the largest bound first, then every tile whose bound reaches the best value so far, found
 * through super tiles (the union of SUPER x SUPER tiles' bounds) so most tiles are never bounded. */
static int refine_position(lp_decoder *d, lp_work *w, int j, const float *person_tag) {
    const int T = d->tile_count, per_row = d->tiles_per_row;
    const int rows = (T + per_row - 1) / per_row, supers_per_row = (per_row + SUPER - 1) / SUPER;
    const int S = supers_per_row * ((rows + SUPER - 1) / SUPER);
    const lp_tile *tiles = d->tiles + (size_t)j * T, *supers = d->supers + (size_t)j * d->super_count;
    float *bounds = w->bounds; /* [S] super bounds, then [G] bounds of one super's tiles */
    int first = 0;
    for (int i = 0; i < S; ++i) {
        bounds[i] = tile_bound(&supers[i], person_tag, d->sides);
        if (bounds[i] > bounds[first]) first = i;
    }
    float best = -INFINITY;
    int best_pixel = -1;
    /* the super tile with the largest bound first, then every one whose bound reaches the best */
    for (int k = -1; k < S; ++k) {
        const int i = k < 0 ? first : k;
        if ((k >= 0 && i == first) || (best_pixel >= 0 && bounds[i] < best)) continue;
        const int ty0 = i / supers_per_row * SUPER, tx0 = i % supers_per_row * SUPER;
        float *inner = bounds + S;
        int n = 0, top = -1;
        for (int ty = ty0; ty < ty0 + SUPER && ty < rows; ++ty)
            for (int tx = tx0; tx < tx0 + SUPER && tx < per_row; ++tx, ++n) {
                inner[n] = tile_bound(&tiles[ty * per_row + tx], person_tag, d->sides);
                if (top < 0 || inner[n] > inner[top]) top = n;
            }
        const int width = tx0 + SUPER < per_row ? SUPER : per_row - tx0;
        for (int m = -1; m < n; ++m) { /* its best tile first */
            const int t = m < 0 ? top : m;
            if ((m >= 0 && t == top) || (best_pixel >= 0 && inner[t] < best)) continue;
            scan_tile(d, w, j, (ty0 + t / width) * per_row + tx0 + t % width, person_tag, &best, &best_pixel);
        }
    }
    return best_pixel;
}

/* Fills each person's missing joints where the heatmap is high and the tag is the person's
 * (the mean of its found joints' tags: float64 in joint order, then float32 as the maps). */
/* Joint j of every person that misses it: the best pixel where the heatmap is high and the tag
 * is the person's (refine_people prepared the people's mean tags). */
static void refine_joint(lp_decoder *d, lp_work *w, int j) {
    const int J = d->J, gw = d->gw;
    for (int g = 0; g < d->num_refined; ++g) {
        float *person = d->keypoints + (size_t)d->refined[g] * J * 3;
        if (person[j * 3 + 2] > 0) continue;
        ensure_tiles(d, w, j);
        const int pixel = refine_position(d, w, j, d->person_tags + 2 * g);
        if (pixel < 0) continue;
        const float value = heat_at(d, w, j, pixel / gw, pixel % gw);
        if (!(value > 0)) continue;
        quarter_offset(d, w, j, pixel % gw, pixel / gw, &person[j * 3], &person[j * 3 + 1]);
        person[j * 3 + 2] = value;
    }
}

/* The first steps for one joint, while its heatmap rows are in the cache: rows above the
 * threshold, candidates and, where every row was computed for the refine step (whole_heat),
 * the refine tiles' heat maxima. */
static void rows_and_candidates(lp_decoder *d, lp_work *w, int j) {
    mark_rows_above(d, w, j);
    find_candidates(d, w, j);
    if (!d->project && d->whole_heat[j]) {
        float *hi = w->tilework;
        lp_tile *tiles = d->tiles + (size_t)j * d->tile_count;
        tile_maxima(d, d->heat + (size_t)j * plane(d->gh, d->gw), hi);
        for (int i = 0; i < d->tile_count; ++i) tiles[i].heat_max = hi[i];
        d->heat_max_ready[j] = 1;
    }
}

/* ------------------------------------------------------------------------ threads */
typedef void (*lp_joint_step)(lp_decoder *d, lp_work *w, int j);

typedef struct {
    lp_decoder *d;
    lp_joint_step step;
    pthread_mutex_t lock;
    int next; /* the next joint to take */
} lp_queue;

typedef struct {
    lp_queue *queue;
    lp_work *work;
} lp_task;

/* Takes joints one at a time until none is left: a thread that starts late (the other core
 * busy) does less. Each thread has its own scratch memory and every cache a step writes is per
 * joint, so the results do not depend on which thread did which joint. */
static void *run_task(void *arg) {
    const lp_task *t = (const lp_task *)arg;
    lp_queue *q = t->queue;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        const int j = q->next++;
        pthread_mutex_unlock(&q->lock);
        if (j >= q->d->J) return NULL;
        q->step(q->d, t->work, j);
    }
}

static void for_each_joint(lp_decoder *d, lp_joint_step step, int parallel) {
    int n = parallel ? d->threads : 1;
    if (n > d->J) n = d->J;
    if (n <= 1) {
        for (int j = 0; j < d->J; ++j) step(d, &d->work[0], j);
        return;
    }
    lp_queue queue;
    queue.d = d;
    queue.step = step;
    queue.next = 0;
    if (pthread_mutex_init(&queue.lock, NULL) != 0) {
        for (int j = 0; j < d->J; ++j) step(d, &d->work[0], j);
        return;
    }
    pthread_t threads[LP_MAX_THREADS];
    lp_task tasks[LP_MAX_THREADS];
    int started[LP_MAX_THREADS] = {0};
    for (int t = 0; t < n; ++t) {
        tasks[t].queue = &queue;
        tasks[t].work = &d->work[t];
    }
    for (int t = 1; t < n; ++t) started[t] = pthread_create(&threads[t], NULL, run_task, &tasks[t]) == 0;
    run_task(&tasks[0]); /* threads that could not start leave their joints to this one */
    for (int t = 1; t < n; ++t)
        if (started[t]) pthread_join(threads[t], NULL);
    pthread_mutex_destroy(&queue.lock);
}

/* Fills each person's missing joints (a person with every joint, or none, has nothing to fill).
 * The mean of the found joints' tags: float64 in joint order, then float32 as the maps. */
static int refine_people(lp_decoder *d, float *keypoints, int num_people) {
    const int J = d->J;
    char *p = (char *)buf_get(&d->buf_persons, (sizeof(float) * 2 + sizeof(int)) * (size_t)(num_people + 1));
    if (!p) return LP_ERR_NOMEM;
    d->person_tags = (float *)p;
    d->refined = (int *)(p + sizeof(float) * 2 * (size_t)(num_people + 1));
    d->keypoints = keypoints;
    d->num_refined = 0;
    int missing = 0;
    for (int g = 0; g < num_people; ++g) {
        const float *person = keypoints + (size_t)g * J * 3;
        double sum[2] = {0.0, 0.0};
        int found = 0;
        for (int j = 0; j < J; ++j) {
            if (!(person[j * 3 + 2] > 0)) continue;
            const float *gj = group_joint(d, g, j);
            for (int s = 0; s < d->sides; ++s) sum[s] += (double)gj[3 + s];
            ++found;
        }
        if (found == 0 || found == J) continue;
        for (int s = 0; s < 2; ++s) d->person_tags[2 * d->num_refined + s] = (float)(sum[s] / (double)found);
        d->refined[d->num_refined++] = g;
        missing += J - found;
    }
    if (d->num_refined) for_each_joint(d, refine_joint, missing >= 16); /* threads pay off from ~16 */
    return LP_OK;
}

/* ------------------------------------------------------------------------ entry point */
static int check_config(const lp_config *cfg) {
    if (!cfg || cfg->num_joints <= 0 || cfg->max_num_people <= 0 || cfg->nms_kernel <= 0 ||
        cfg->nms_kernel % 2 == 0 || !cfg->joint_order || !cfg->flip_index)
        return LP_ERR_ARGS;
    for (int j = 0; j < cfg->num_joints; ++j)
        if (cfg->joint_order[j] < 0 || cfg->joint_order[j] >= cfg->num_joints || cfg->flip_index[j] < 0 ||
            cfg->flip_index[j] >= cfg->num_joints)
            return LP_ERR_ARGS;
    return LP_OK;
}

/* The maximum number of people lp_decode can return for this config. */
LP_EXPORT int lp_max_people(const lp_config *cfg) {
    if (check_config(cfg)) return LP_ERR_ARGS;
    return cfg->num_joints * cfg->max_num_people;
}

/* Sizes the call's state and takes its storage (grow-only buffers; flags cleared). */
static int prepare(lp_decoder *d) {
    const int J = d->J, S = d->sides, K = d->cfg->max_num_people;
    d->tile_size = LP_TILE; /* 8 x 8 refine tiles: measured fastest at both resolutions */
    d->tiles_per_row = (d->gw + d->tile_size - 1) / d->tile_size;
    d->tile_count = d->tiles_per_row * ((d->gh + d->tile_size - 1) / d->tile_size);
    d->super_count = ((d->tiles_per_row + SUPER - 1) / SUPER) *
                     (((d->gh + d->tile_size - 1) / d->tile_size + SUPER - 1) / SUPER);
    const size_t n_hrow2 = d->project ? (size_t)S * J * d->h2 : 0;
    const size_t n_heat = (size_t)J * d->gh;
    const size_t flags = n_hrow2 + 2 * n_heat + 3 * (size_t)J + (size_t)J * d->tile_count;
    const size_t widest = (size_t)(d->gw > d->w2 ? d->gw : d->w2);
    const size_t per_thread =
        widest + 4 * (size_t)d->h2 + 2 * widest + 4 * (size_t)d->tile_count + SUPER * SUPER + 4 * (size_t)d->w2;
    const int threads = d->threads < J ? d->threads : J;
    lp_tap *taps = (lp_tap *)buf_get(&d->buf_taps, sizeof(lp_tap) * (size_t)(2 * d->h1 + 2 * d->w1 + 2 * d->h2 + 2 * d->w2));
    d->heat2 = d->project ? (float *)buf_get(&d->buf_heat2, sizeof(float) * (size_t)S * J * plane(d->h2, d->w2)) : NULL;
    d->hrow2 = d->project ? (float *)buf_get(&d->buf_hrow2, sizeof(float) * n_hrow2 * d->gw) : NULL;
    d->heat = (float *)buf_get(&d->buf_heat, sizeof(float) * n_heat * d->gw);
    d->tags = d->project ? (float *)buf_get(&d->buf_tags, sizeof(float) * (size_t)S * J * plane(d->h2, d->w2)) : NULL;
    for (int t = 0; t < threads; ++t) {
        lp_work *w = &d->work[t];
        w->row = (float *)buf_get(&w->buf, sizeof(float) * per_thread);
        if (!w->row) return LP_ERR_NOMEM;
        w->rmax = w->row + widest;
        w->colstats = w->rmax + 4 * (size_t)d->h2;
        w->tilework = w->colstats + 2 * widest;
        w->bounds = w->tilework + 3 * (size_t)d->tile_count;
        w->hrow[0] = w->bounds + d->tile_count + SUPER * SUPER;
        for (int i = 0; i < 4; ++i) {
            w->hrow[i] = w->hrow[0] + (size_t)i * d->w2;
            w->hkey[i] = -1;
        }
        w->hlast[0] = 0;
        w->hlast[1] = 2;
    }
    d->gtags = (float *)buf_get(&d->buf_gtags, sizeof(float) * (size_t)S * J * plane(d->gh, d->gw));
    uint8_t *f = (uint8_t *)buf_get(&d->buf_flags, flags);
    d->tiles = (lp_tile *)buf_get(&d->buf_tiles, sizeof(lp_tile) * (size_t)J * (d->tile_count + d->super_count));
    d->supers = d->tiles ? d->tiles + (size_t)J * d->tile_count : NULL;
    char *c = (char *)buf_get(&d->buf_cands, sizeof(lp_candidate) * (size_t)J * K + sizeof(int) * (size_t)J);
    if (!taps || (d->project && (!d->heat2 || !d->hrow2 || !d->tags)) || !d->heat || !d->gtags || !f ||
        !d->tiles || !c)
        return LP_ERR_NOMEM;
    memset(f, 0, flags);
    d->hrow2_ready = f;
    d->heat_ready = d->hrow2_ready + n_hrow2;
    d->above = d->heat_ready + n_heat;
    d->tags_ready = d->above + n_heat;
    d->tiles_ready = d->tags_ready + J;
    d->heat_max_ready = d->tiles_ready + J;
    d->tile_filled = d->heat_max_ready + J;
    d->cands = (lp_candidate *)c;
    d->cand_count = (int *)(c + sizeof(lp_candidate) * (size_t)J * K);
    const uint64_t shape = ((uint64_t)J << 40) ^ ((uint64_t)d->gh << 20) ^ (uint64_t)d->gw;
    if (!d->whole_heat || d->whole_heat_shape != shape) { /* flags of another shape mean nothing */
        d->whole_heat = (uint8_t *)buf_get(&d->buf_whole, (size_t)J);
        if (!d->whole_heat) return LP_ERR_NOMEM;
        memset(d->whole_heat, 0, (size_t)J);
        d->whole_heat_shape = shape;
    }
    d->ty1 = taps;
    d->tx1 = d->ty1 + 2 * d->h1;
    d->ty2 = d->tx1 + 2 * d->w1;
    d->tx2 = d->ty2 + 2 * d->h2;
    axis_taps(d->h1, d->ty1);
    axis_taps(d->w1, d->tx1);
    axis_taps(d->h2, d->ty2);
    axis_taps(d->w2, d->tx2);
    return LP_OK;
}

/* Decode one image. stage1 [2J, h1, w1] and stage2 [J, 2 h1, 2 w1], C-contiguous float32;
 * flipped_stage1/2 the same for the mirrored input, or NULL. Writes up to `capacity` people:
 * keypoints [capacity, J, 3] (x, y, score in network-input pixels) and scores [capacity].
 * Returns the number of people, or a negative LP_ERR_* code. */
LP_EXPORT int lp_decode(lp_decoder *d, const lp_config *cfg, const float *stage1, const float *stage2,
                        const float *flipped_stage1, const float *flipped_stage2, int h1, int w1, float *keypoints,
                        float *scores, int capacity) {
    if (!d || check_config(cfg) || !stage1 || !stage2 || h1 <= 0 || w1 <= 0 || !keypoints || !scores ||
        capacity < lp_max_people(cfg) || ((flipped_stage1 == NULL) != (flipped_stage2 == NULL)))
        return LP_ERR_ARGS;
    const int J = cfg->num_joints;
    d->cfg = cfg;
    d->J = J;
    d->stage1[0] = stage1;
    d->stage2[0] = stage2;
    d->stage1[1] = flipped_stage1;
    d->stage2[1] = flipped_stage2;
    d->sides = flipped_stage1 ? 2 : 1;
    d->project = cfg->project_to_input != 0;
    d->h1 = h1;
    d->w1 = w1;
    d->h2 = 2 * h1;
    d->w2 = 2 * w1;
    d->gh = d->project ? 2 * d->h2 : d->h2;
    d->gw = d->project ? 2 * d->w2 : d->w2;
    int err = prepare(d);
    if (err) return err;
    /* Rows and candidates per joint, in threads where the work pays for starting them (~20-50
     * us): when projecting (whole stride-2 heatmaps), or when the previous frame had many rows
     * above the threshold or heatmaps computed whole (video frames change slowly). The people
     * found do not depend on it. */
    const size_t many = 200000; /* heatmap pixels in rows above the threshold: ~10 people */
    size_t whole = 0; /* joints computed whole (last frame's refine step wanted them) */
    for (int j = 0; j < J; ++j) whole += !d->project && d->whole_heat[j];
    for_each_joint(d, rows_and_candidates, (d->project && plane(d->h2, d->w2) * (size_t)J >= 100000) ||
                                               d->last_rows_above * (size_t)d->gw >= many ||
                                               whole * plane(d->gh, d->gw) >= many);
    memset(d->whole_heat, 0, (size_t)J); /* this frame's refine step records its own */
    size_t rows_above = 0;
    for (size_t i = 0; i < (size_t)J * d->gh; ++i) rows_above += d->above[i];
    d->last_rows_above = rows_above;
    if ((err = group_people(d))) return err;

    const int P = d->num_groups;
    for (int g = 0; g < P; ++g) {
        double total = 0.0;
        for (int j = 0; j < J; ++j) {
            const float *gj = group_joint(d, g, j);
            float *o = keypoints + ((size_t)g * J + j) * 3;
            o[0] = gj[0];
            o[1] = gj[1];
            o[2] = gj[2];
            if (cfg->adjust && gj[2] > 0) quarter_offset(d, &d->work[0], j, (int)gj[0], (int)gj[1], &o[0], &o[1]);
            total += (double)gj[2];
        }
        scores[g] = (float)(total / (double)J);
    }
    if (cfg->refine && (err = refine_people(d, keypoints, P))) return err;
    const float sx = (float)(2.0 * d->w2 / d->gw), sy = (float)(2.0 * d->h2 / d->gh);
    for (size_t i = 0; i < (size_t)P * J; ++i) {
        keypoints[i * 3] *= sx;
        keypoints[i * 3 + 1] *= sy;
    }
    return P;
}
