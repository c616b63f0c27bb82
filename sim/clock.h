/* The one door between C models and simulated time.
 *
 * Models never see SystemC: they ask for the current simulated time and
 * schedule callbacks at absolute times through this interface.  The
 * SystemC layer (sim/systemc/) implements it for real runs; tests use
 * sim_clock_simple_new(), a plain event queue.  Time is in picoseconds. */
#ifndef SIM_CLOCK_H
#define SIM_CLOCK_H

#include <stdint.h>

#define SIM_PS_PER_NS 1000ull
#define SIM_PS_PER_US 1000000ull
#define SIM_PS_PER_S  1000000000000ull

typedef void sim_event_fn(void *opaque);

struct sim_clock_ops {
	uint64_t (*now)(void *impl);	/* current simulated time, ps */
	/* Run fn(opaque) at absolute time `when` (clamped to now).  Events at
	 * equal times run in the order they were scheduled. Returns an id > 0. */
	uint64_t (*schedule)(void *impl, uint64_t when, sim_event_fn *fn, void *opaque);
	void (*cancel)(void *impl, uint64_t id);	/* no-op if already run */
};

struct sim_clock {
	const struct sim_clock_ops *ops;
	void *impl;
};

static inline uint64_t sim_now(const struct sim_clock *c)
{
	return c->ops->now(c->impl);
}

static inline uint64_t sim_schedule(const struct sim_clock *c, uint64_t when,
				    sim_event_fn *fn, void *opaque)
{
	return c->ops->schedule(c->impl, when, fn, opaque);
}

static inline void sim_cancel(const struct sim_clock *c, uint64_t id)
{
	c->ops->cancel(c->impl, id);
}

/* A self-contained discrete-event clock for unit tests and tools. */
struct sim_clock *sim_clock_simple_new(void);
void sim_clock_simple_free(struct sim_clock *c);
/* Advance to `t`, running every event due at or before it in order. */
void sim_clock_simple_advance(struct sim_clock *c, uint64_t t);

/* Cycle <-> time conversion at a frequency in kHz, exact and overflow-free. */
uint64_t sim_cycles_to_ps(uint64_t cycles, uint64_t khz);
uint64_t sim_ps_to_cycles(uint64_t ps, uint64_t khz);

#endif
