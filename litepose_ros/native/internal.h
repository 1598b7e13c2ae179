/* The decoder's state and the functions its stages share (internal: not part of the ABI).
 * Every source file includes this first. Stages: upsample.c (heatmap rows and tags at the
 * grouping resolution), candidates.c (rows above the threshold, NMS peaks), assignment.c (the
 * matching solver), grouping.c (people from candidates), refine.c (missing joints), threads.c
 * (per-joint steps in threads), decoder.c (the entry points). README.md: bounds, ready flags,
 * margins. */
#ifndef LITEPOSE_INTERNAL_H
#define LITEPOSE_INTERNAL_H
#define _POSIX_C_SOURCE 200112L /* pthreads and sysconf under -std=c99 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "litepose_decoder.h"
#include "simd.h"

/* ------------------------------------------------------------------------ small helpers */
typedef struct {
    int32_t lo, hi;
    float wlo, whi;
} lp_tap;

/* Grow-only buffer. */
typedef struct {
    void *data;
    size_t size;
} lp_buf;

static inline void *buf_get(lp_buf *buf, size_t size) {
    if (size == 0) size = 1;
    if (buf->size < size) {
        void *data = realloc(buf->data, size);
        if (!data) return NULL;
        buf->data = data;
        buf->size = size;
    }
    return buf->data;
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
    float heat_max;         /* upper bound of the tile's heat */
    float tag_lo[2], tag_hi[2]; /* per tag dimension, a range holding every tag of the tile */
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

struct lp_decoder {
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
};

#define SUPER 4 /* tiles per side of a super tile */
#define LP_TILE 8 /* pixels per side of a refine tile: two four-float vectors per tile row */
typedef char lp_tile_is_two_vectors[LP_TILE == 8 ? 1 : -1]; /* the vector loops assume it */
#define JSTRIDE 5 /* floats per grouped joint: x, y, value, tag0, tag1 */

static inline size_t plane(int h, int w) { return (size_t)h * (size_t)w; }

/* The stage-1 / stage-2 channel that side s reads for joint j (the flip test swaps left/right). */
static inline int source_joint(const lp_decoder *d, int s, int j) { return s == 0 ? j : d->cfg->flip_index[j]; }

/* Epsilon margins of the bounds (README.md). A heatmap or tag pixel at the grouping resolution is
 * blended from source pixels by a few float32 operations (each 2x upsampling two passes of
 * a * wa + b * wb; at stride 2 the stage-2 sum and halving; the flip test's average; projected, one
 * more upsampling): about a dozen roundings, each off by at most FLT_EPSILON / 2 of the largest
 * magnitude involved, so by this count a pixel exceeds the maximum of its sources by less than
 * 6 FLT_EPSILON times that magnitude. The margins allow several times that: too wide costs a few rows or tiles
 * computed in vain, too narrow could skip a pixel the reference finds (and change the people). */
#define LP_HEAT_MARGIN (32.0f * FLT_EPSILON) /* heat bounds: rows above the threshold, refine tiles */
#define LP_TAG_MARGIN (16.0f * FLT_EPSILON)  /* tag ranges of refine tiles (fewer roundings: no sums) */

/* When the per-joint steps run in threads: starting and joining them costs ~20-50 us, more than
 * a small frame's steps take on one core, so only frames with this much work use them. Tuning,
 * not correctness: the people found never depend on them. */
#define LP_THREADS_MIN_PROJECTED_PIXELS 100000 /* stride-2 heatmap pixels of all joints, projecting */
#define LP_THREADS_MIN_ROW_PIXELS 200000       /* heatmap pixels in rows above the threshold: ~10 people */
#define LP_THREADS_MIN_MISSING_JOINTS 16       /* joints the refine step fills */
#define LP_DEFAULT_MAX_THREADS 4 /* without LITEPOSE_DECODER_THREADS: the decoder follows inference, which
                                  * has finished with the cores by then, and more rarely pays */

static inline float *group_joint(lp_decoder *d, int g, int j) {
    return d->group_joints + ((size_t)g * d->cfg->num_joints + j) * JSTRIDE;
}

/* ------------------------------------------------------------------------ upsample.c */
void axis_taps(int n, lp_tap *taps);
const float *compute_heat_row(lp_decoder *d, lp_work *w, int j, int y);
void stride2_heat_row(lp_decoder *d, lp_work *w, int s, int j, int y, float *out);
float tag_at(const lp_decoder *d, int s, int j, int y, int x);
void ensure_tag_maps(lp_decoder *d, lp_work *work, int j);

/* Row y of joint j's heatmap at the grouping resolution, computed on first use (heat_ready). */
static inline const float *heat_row(lp_decoder *d, lp_work *w, int j, int y) {
    const size_t id = (size_t)j * d->gh + y;
    return d->heat_ready[id] ? d->heat + id * d->gw : compute_heat_row(d, w, j, y);
}

static inline float heat_at(lp_decoder *d, lp_work *w, int j, int y, int x) { return heat_row(d, w, j, y)[x]; }

/* ------------------------------------------------------------------------ candidates.c */
void rows_and_candidates(lp_decoder *d, lp_work *w, int j);

/* ------------------------------------------------------------------------ assignment.c */
int solve_assignment(const double *cost_in, int nr_in, int nc_in, int *row_to_col, lp_buf *work);

/* ------------------------------------------------------------------------ grouping.c */
int group_people(lp_decoder *d);

/* ------------------------------------------------------------------------ refine.c */
void quarter_offset(lp_decoder *d, lp_work *work, int j, int x, int y, float *ox, float *oy);
void tile_maxima(const lp_decoder *d, const float *map, float *tile_max);
int refine_people(lp_decoder *d, float *keypoints, int num_people);

/* ------------------------------------------------------------------------ threads.c */
typedef void (*lp_joint_step)(lp_decoder *d, lp_work *w, int j);
int default_threads(void);
void for_each_joint(lp_decoder *d, lp_joint_step step, int parallel);
#endif
