/* The assignment solver of the grouping step. */
#include "internal.h"

/* Minimum-cost assignment of a rectangular nr x nc cost matrix (row-major), every
 * min(nr, nc) pair matched: the shortest augmenting path algorithm of Crouse (2016), in the
 * form scipy's linear_sum_assignment implements (same search order and tie rules), so that
 * both pick the same optimum among exact ties. row_to_col[r] = column or -1. */
int solve_assignment(const double *cost_in, int nr_in, int nc_in, int *row_to_col, lp_buf *work) {
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
