/* Threads: the per-joint steps spread over up to LP_MAX_THREADS threads. */
#include "internal.h"

/* Threads for the per-joint steps: LITEPOSE_DECODER_THREADS, else the online CPUs, at most
 * LP_DEFAULT_MAX_THREADS. */
int default_threads(void) {
    const char *text = getenv("LITEPOSE_DECODER_THREADS");
    long n = text && *text ? strtol(text, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    if (!(text && *text) && n > LP_DEFAULT_MAX_THREADS) n = LP_DEFAULT_MAX_THREADS;
    return n < 1 ? 1 : (n > LP_MAX_THREADS ? LP_MAX_THREADS : (int)n);
}

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

void for_each_joint(lp_decoder *d, lp_joint_step step, int parallel) {
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
