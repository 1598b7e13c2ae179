/* Grouping: joint by joint (joint_order), candidates matched to people on tag distance. */
#include "internal.h"

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

int group_people(lp_decoder *d) {
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
