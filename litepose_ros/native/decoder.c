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
 *
 * This file holds the entry points; each stage has its own file (internal.h lists them, README.md
 * explains the bounds, ready flags and epsilon margins).
 */
#include "internal.h"

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
    /* Rows and candidates per joint, in threads where the work pays for starting them: when
     * projecting (whole stride-2 heatmaps), or when the previous frame had many rows above the
     * threshold or heatmaps computed whole (video frames change slowly). */
    const size_t many = LP_THREADS_MIN_ROW_PIXELS;
    size_t whole = 0; /* joints computed whole (last frame's refine step wanted them) */
    for (int j = 0; j < J; ++j) whole += !d->project && d->whole_heat[j];
    const size_t projected = d->project ? plane(d->h2, d->w2) * (size_t)J : 0;
    for_each_joint(d, rows_and_candidates, projected >= LP_THREADS_MIN_PROJECTED_PIXELS ||
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
