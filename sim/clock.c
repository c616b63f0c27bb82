/* Cycle/time conversion and the simple event-queue clock used by unit
 * tests.  The SystemC clock lives in sim/systemc/. */
#include <errno.h>
#include <stdlib.h>

#include "clock.h"

uint64_t sim_cycles_to_ps(uint64_t cycles, uint64_t khz)
{
	/* ps = cycles * 1e9 / kHz, in 128 bits so no run length overflows. */
	return (uint64_t)(((unsigned __int128)cycles * 1000000000u) / khz);
}

uint64_t sim_ps_to_cycles(uint64_t ps, uint64_t khz)
{
	return (uint64_t)(((unsigned __int128)ps * khz) / 1000000000u);
}

struct simple_event {
	uint64_t when, seq, id;
	sim_event_fn *fn;
	void *opaque;
};

struct simple_clock {
	struct sim_clock pub;
	uint64_t now, seq;
	struct simple_event *heap;	/* min-heap on (when, seq) */
	size_t n, cap;
};

static int ev_before(const struct simple_event *a, const struct simple_event *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void heap_swap(struct simple_event *h, size_t i, size_t j)
{
	struct simple_event t = h[i];

	h[i] = h[j];
	h[j] = t;
}

static void heap_up(struct simple_event *h, size_t i)
{
	while (i && ev_before(&h[i], &h[(i - 1) / 2])) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct simple_event *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < n && ev_before(&h[l], &h[m]))
			m = l;
		if (r < n && ev_before(&h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		heap_swap(h, i, m);
		i = m;
	}
}

static uint64_t simple_now(void *impl)
{
	return ((struct simple_clock *)impl)->now;
}

static uint64_t simple_schedule(void *impl, uint64_t when, sim_event_fn *fn, void *opaque)
{
	struct simple_clock *c = impl;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct simple_event *h = realloc(c->heap, cap * sizeof(*h));

		if (!h)
			abort();	/* host out of memory: nothing sensible to do */
		c->heap = h;
		c->cap = cap;
	}
	if (when < c->now)
		when = c->now;
	c->seq++;
	c->heap[c->n] = (struct simple_event){ when, c->seq, c->seq, fn, opaque };
	heap_up(c->heap, c->n++);
	return c->seq;
}

static void simple_cancel(void *impl, uint64_t id)
{
	struct simple_clock *c = impl;

	for (size_t i = 0; i < c->n; i++) {
		if (c->heap[i].id == id) {
			c->heap[i] = c->heap[--c->n];
			if (i < c->n) {
				heap_down(c->heap, c->n, i);
				heap_up(c->heap, i);
			}
			return;
		}
	}
}

static const struct sim_clock_ops simple_ops = {
	.now = simple_now,
	.schedule = simple_schedule,
	.cancel = simple_cancel,
};

struct sim_clock *sim_clock_simple_new(void)
{
	struct simple_clock *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->pub.ops = &simple_ops;
	c->pub.impl = c;
	return &c->pub;
}

void sim_clock_simple_free(struct sim_clock *pub)
{
	struct simple_clock *c;

	if (!pub)
		return;
	c = pub->impl;
	free(c->heap);
	free(c);
}

void sim_clock_simple_advance(struct sim_clock *pub, uint64_t t)
{
	struct simple_clock *c = pub->impl;

	while (c->n && c->heap[0].when <= t) {
		struct simple_event e = c->heap[0];

		c->heap[0] = c->heap[--c->n];
		heap_down(c->heap, c->n, 0);
		c->now = e.when;
		e.fn(e.opaque);
	}
	if (t > c->now)
		c->now = t;
}
