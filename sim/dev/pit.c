/* The 8254 programmable interval timer (Intel 8254 datasheet) at
 * 0x40-0x43, and system control port B at 0x61 (PIIX/ICH NMI status and
 * control register) which holds channel 2's gate and shows its output.
 *
 * Time: the input clock runs at 1.193182 MHz of simulated time.  Edge k of
 * the clock happens at ceil(k * 10^12 / 1193182) ps, so edge times are
 * exact rationals rounded once, and a periodic output never drifts.  A
 * counter's element (CE) and OUT are pure functions of the edge count
 * since it was last loaded; nothing runs per tick.  Only channel 0's OUT
 * needs events (it drives IRQ0): one at each of its transitions, none
 * while it is steady or when IRQ0 is unconnected.
 *
 * Per datasheet ("Mode definitions"): a count written is loaded into CE on
 * the next clock edge; mode 0 sets OUT high N edges after that (N+1 after
 * the write); modes 2 and 3 reload at the end of a period (mode 3: of a
 * half-period) when a new count is written while counting; gate low stops
 * counting in modes 0, 2, 3, 4 and forces OUT high in modes 2 and 3; a
 * rising gate restarts modes 2 and 3 and triggers modes 1 and 5.
 *
 * Choices where the datasheet leaves room:
 * - Before the first control word a channel is in mode 0 with no count,
 *   OUT low, access LSB-then-MSB ("undefined" in the datasheet).
 * - Between a count write and the load edge (less than one input clock)
 *   CE reads its previous value.
 * - A count of 1, illegal in mode 2, runs as 2 in modes 2 and 3.
 * - BCD counting is supported; a non-decimal digit in a BCD count is
 *   taken at its face value (modulo 10000).
 * - Port 0x61 bit 4 (refresh) toggles every 18 input clocks (15.09 us),
 *   whatever channel 1 is programmed to, as on chipsets with a fixed
 *   refresh timer.  Bits 6 and 7 (NMI sources) read 0.
 * - The ports are byte-wide: a wider access acts on its first byte only. */
#include <errno.h>
#include <stdlib.h>

#include "dev.h"

#define PIT_NCHANNELS 3
#define PIT_NPORTS 4
#define PIT_CTRL 3
#define PIT_NONE UINT64_MAX
#define PIT_REFRESH_TICKS 18

#define PORTB_GATE2 0x01
#define PORTB_WRITABLE 0x0F	/* gate, speaker, parity and IOCHK enables */
#define PORTB_REFRESH 0x10
#define PORTB_OUT2 0x20

/* Control word (datasheet "Control word format") */
#define CW_SC_SHIFT 6
#define CW_RW_SHIFT 4
#define CW_MODE_SHIFT 1
#define CW_BCD 0x01
#define CW_READBACK 3		/* SC = 11 */
#define RB_NOT_COUNT 0x20
#define RB_NOT_STATUS 0x10
#define RW_LATCH 0
#define RW_LSB 1
#define RW_MSB 2
#define RW_BOTH 3
#define STATUS_OUT 0x80
#define STATUS_NULL 0x40

struct pit_channel {
	uint8_t ctrl;		/* control word bits 5:0, for the status byte */
	uint8_t mode;		/* 0-5 (6 and 7 are 2 and 3) */
	uint8_t rw, bcd, gate;
	uint32_t cr;		/* count register: 1..modulus (0 written = modulus) */
	uint8_t have_count;
	uint8_t write_msb, cr_lsb;	/* RW_BOTH write flip-flop */
	uint8_t read_msb;	/* RW_BOTH read flip-flop */
	uint8_t count_latched, status_latched, status;
	uint16_t latch;
	uint8_t null_count;
	uint64_t load_tick;	/* null count clears here */

	/* counting */
	uint8_t running;
	uint64_t start;		/* edge at which CE = ce0 (modes 0, 1, 4, 5) or the cycle is at phase (2, 3) */
	uint32_t ce0;		/* 0..modulus-1 */
	uint32_t n, phase;	/* modes 2, 3: period in edges, position at start */
	uint8_t tc_done;	/* modes 0, 1, 4, 5: terminal count passed before start */
	uint8_t out_idle;	/* OUT before start or while stopped */
	uint32_t ce_idle;	/* CE before start or while stopped */
	uint8_t pending;	/* modes 2, 3: a new count takes over at pending_tick */
	uint64_t pending_tick;
	uint32_t pending_n, pending_phase;
};

struct pit {
	const struct sim_clock *clk;
	struct irq_line irq0;
	int irq_level;
	uint64_t event;		/* channel 0's next OUT transition, 0 if none */
	uint8_t portb;
	struct pit_channel ch[PIT_NCHANNELS];
};

uint64_t pit_tick_at(uint64_t ps)
{
	return (uint64_t)((unsigned __int128)ps * PIT_HZ / SIM_PS_PER_S);
}

uint64_t pit_tick_time(uint64_t tick)
{
	unsigned __int128 t = ((unsigned __int128)tick * SIM_PS_PER_S + PIT_HZ - 1) / PIT_HZ;

	return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

static uint32_t pit_modulus(const struct pit_channel *c)
{
	return c->bcd ? 10000 : 65536;
}

/* Modes 2 and 3 period for the count register. */
static uint32_t pit_period(const struct pit_channel *c)
{
	return c->cr < 2 ? 2 : c->cr;
}

static uint32_t pit_half(uint32_t n)
{
	return (n + 1) / 2;	/* mode 3 high half: (N+1)/2 for odd N, N/2 for even */
}

static uint64_t pit_cycle_pos(const struct pit_channel *c, uint64_t T)
{
	return (T - c->start + c->phase) % c->n;
}

/* Ticks from start to terminal count (CE reaching 0). */
static uint64_t pit_dtc(const struct pit_channel *c)
{
	return c->ce0 ? c->ce0 : pit_modulus(c);
}

/* CE at edge T (as an integer 0..modulus-1). */
static uint32_t pit_ce(const struct pit_channel *c, uint64_t T)
{
	uint32_t M = pit_modulus(c);
	uint64_t e, pos;

	if (!c->running || T < c->start)
		return c->ce_idle;
	e = T - c->start;
	switch (c->mode) {
	case 2:
		return (uint32_t)((c->n - pit_cycle_pos(c, T)) % M);
	case 3: {
		uint32_t h = pit_half(c->n), top = c->n & ~1u;

		pos = pit_cycle_pos(c, T);
		if (pos >= h)
			pos -= h;
		/* Counts down by 2 from N (even) or N-1 (odd) in each half. */
		return (uint32_t)((top - 2 * pos) % M);
	}
	default:
		return (uint32_t)((c->ce0 + M - e % M) % M);
	}
}

static int pit_out(const struct pit_channel *c, uint64_t T)
{
	uint64_t e, dtc;

	if (!c->running || T < c->start)
		return c->out_idle;
	e = T - c->start;
	dtc = pit_dtc(c);
	switch (c->mode) {
	case 0:		/* low until terminal count, then high */
	case 1:
		return c->tc_done || e >= dtc;
	case 2:		/* low for the one clock CE is 1 */
		return pit_cycle_pos(c, T) != c->n - 1;
	case 3:
		return pit_cycle_pos(c, T) < pit_half(c->n);
	default:	/* 4, 5: one clock low at terminal count */
		return c->tc_done || e != dtc;
	}
}

/* The first edge after T at which OUT may change, or PIT_NONE. */
static uint64_t pit_next_edge(const struct pit_channel *c, uint64_t T)
{
	uint64_t next = PIT_NONE, e, dtc, pos;

	if (!c->running)
		return PIT_NONE;
	if (T < c->start) {
		if (pit_out(c, c->start) != c->out_idle)
			return c->start;
		T = c->start;
	}
	e = T - c->start;
	dtc = pit_dtc(c);
	switch (c->mode) {
	case 0:
	case 1:
		if (!c->tc_done && e < dtc)
			next = c->start + dtc;
		break;
	case 2:
		pos = pit_cycle_pos(c, T);
		next = T + (pos < c->n - 1 ? c->n - 1 - pos : 1);
		break;
	case 3:
		pos = pit_cycle_pos(c, T);
		next = T + (pos < pit_half(c->n) ? pit_half(c->n) - pos : c->n - pos);
		break;
	default:
		if (!c->tc_done && e <= dtc)
			next = c->start + dtc + (e == dtc);
		break;
	}
	if (c->pending && c->pending_tick < next)
		next = c->pending_tick;
	return next;
}

/* Apply what happened by edge T: a pending reload, the end of null count. */
static void pit_sync(struct pit_channel *c, uint64_t T)
{
	if (c->pending && T >= c->pending_tick) {
		c->start = c->pending_tick;
		c->n = c->pending_n;
		c->phase = c->pending_phase;
		c->pending = 0;
	}
	if (c->null_count && T >= c->load_tick)
		c->null_count = 0;
}

/* Stop counting at edge T, keeping CE and OUT as they are. */
static void pit_freeze(struct pit_channel *c, uint64_t T)
{
	if (c->running) {
		/* Before the load edge, CE is about to hold the loaded value. */
		if (T >= c->start)
			c->ce_idle = pit_ce(c, T);
		else
			c->ce_idle = (c->mode == 2 || c->mode == 3) ? c->n % pit_modulus(c) : c->ce0;
		c->out_idle = (uint8_t)pit_out(c, T);
		if (T >= c->start && c->mode != 2 && c->mode != 3)
			c->tc_done = c->tc_done || T - c->start >= pit_dtc(c);
	}
	c->running = 0;
	c->pending = 0;
}

/* Load ce0 into CE at edge `start` and count from there. */
static void pit_start_oneshot(struct pit_channel *c, uint64_t T, uint64_t start, uint32_t ce0, int tc_done)
{
	c->ce_idle = pit_ce(c, T);
	c->out_idle = (uint8_t)pit_out(c, T);
	c->ce0 = ce0;
	c->tc_done = (uint8_t)tc_done;
	c->start = start;
	c->running = 1;
	c->pending = 0;
}

static void pit_start_periodic(struct pit_channel *c, uint64_t T)
{
	c->ce_idle = pit_ce(c, T);
	c->out_idle = 1;
	c->n = pit_period(c);
	c->phase = 0;
	c->start = T + 1;
	c->running = 1;
	c->pending = 0;
	c->load_tick = T + 1;
}

static void pit_count_written(struct pit_channel *c, uint64_t T)
{
	uint32_t M = pit_modulus(c);
	uint64_t pos, h;

	c->have_count = 1;
	c->null_count = 1;
	c->load_tick = PIT_NONE;
	switch (c->mode) {
	case 0:
	case 4:
		c->load_tick = T + 1;
		if (c->gate) {
			pit_start_oneshot(c, T, T + 1, c->cr % M, 0);
		} else {
			/* Loaded on the next clock; counting waits for the gate. */
			pit_freeze(c, T);
			c->ce_idle = c->cr % M;
			c->tc_done = 0;
		}
		c->out_idle = c->mode == 0 ? 0 : 1;
		break;
	case 2:
	case 3:
		if (!c->gate)
			break;	/* loaded when the gate rises */
		if (!c->running || T < c->start) {
			pit_start_periodic(c, T);
			break;
		}
		/* Counting goes on; the new count is loaded at the next reload
		 * (mode 3: the end of the current half-cycle). */
		pos = pit_cycle_pos(c, T);
		h = pit_half(c->n);
		c->pending = 1;
		c->pending_n = pit_period(c);
		if (c->mode == 3 && pos < h) {
			c->pending_tick = T + (h - pos);
			c->pending_phase = pit_half(c->pending_n);
		} else {
			c->pending_tick = T + (c->n - pos);
			c->pending_phase = 0;
		}
		c->load_tick = c->pending_tick;
		break;
	default:
		break;	/* modes 1, 5: loaded by the next gate trigger */
	}
}

static void pit_set_gate(struct pit_channel *c, int gate, uint64_t T)
{
	if (gate == c->gate)
		return;
	pit_sync(c, T);
	c->gate = (uint8_t)gate;
	if (!c->have_count)
		return;
	switch (c->mode) {
	case 0:
	case 4:
		if (!gate)
			pit_freeze(c, T);
		else
			pit_start_oneshot(c, T, T, c->ce_idle, c->tc_done);
		break;
	case 2:
	case 3:
		if (!gate) {
			pit_freeze(c, T);
			c->out_idle = 1;
		} else {
			pit_start_periodic(c, T);
			c->null_count = 1;
		}
		break;
	default:
		if (gate) {	/* trigger */
			pit_start_oneshot(c, T, T + 1, c->cr % pit_modulus(c), 0);
			c->load_tick = T + 1;
		}
		break;
	}
}

static uint16_t pit_encode(const struct pit_channel *c, uint32_t v)
{
	if (!c->bcd)
		return (uint16_t)v;
	return (uint16_t)((v / 1000 % 10) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10);
}

static uint32_t pit_decode(const struct pit_channel *c, uint16_t raw)
{
	uint32_t v = raw;

	if (c->bcd)
		v = ((raw >> 12) * 1000u + (raw >> 8 & 15) * 100u + (raw >> 4 & 15) * 10u + (raw & 15)) % 10000;
	return v ? v : pit_modulus(c);
}

static uint64_t pit_now_tick(const struct pit *t)
{
	return pit_tick_at(sim_now(t->clk));
}

static void pit_event(void *opaque);

/* Drive IRQ0 from channel 0's OUT and schedule its next transition. */
static void pit_update_irq0(struct pit *t)
{
	struct pit_channel *c = &t->ch[0];
	uint64_t T, next;
	int level;

	if (!t->irq0.set)
		return;
	T = pit_now_tick(t);
	pit_sync(c, T);
	level = pit_out(c, T);
	if (t->event) {
		sim_cancel(t->clk, t->event);
		t->event = 0;
	}
	next = pit_next_edge(c, T);
	if (next != PIT_NONE)
		t->event = sim_schedule(t->clk, pit_tick_time(next), pit_event, t);
	if (level != t->irq_level) {
		t->irq_level = level;
		irq_set(&t->irq0, level);
	}
}

static void pit_event(void *opaque)
{
	struct pit *t = opaque;

	t->event = 0;
	pit_update_irq0(t);
}

static void pit_latch_count(struct pit_channel *c, uint64_t T)
{
	if (c->count_latched)
		return;		/* the first latch holds until read */
	c->latch = pit_encode(c, pit_ce(c, T));
	c->count_latched = 1;
}

static void pit_control(struct pit *t, uint8_t v, uint64_t T)
{
	unsigned sc = v >> CW_SC_SHIFT, rw = (v >> CW_RW_SHIFT) & 3, mode = (v >> CW_MODE_SHIFT) & 7;
	struct pit_channel *c;

	if (sc == CW_READBACK) {
		/* Read-back: bits 3:1 select counters 2..0; bit 5 clear latches
		 * the count, bit 4 clear the status. */
		for (unsigned i = 0; i < PIT_NCHANNELS; i++) {
			c = &t->ch[i];
			if (!(v & (2u << i)))
				continue;
			pit_sync(c, T);
			if (!(v & RB_NOT_COUNT))
				pit_latch_count(c, T);
			if (!(v & RB_NOT_STATUS) && !c->status_latched) {
				c->status = (uint8_t)((pit_out(c, T) ? STATUS_OUT : 0) |
						      (c->null_count ? STATUS_NULL : 0) | c->ctrl);
				c->status_latched = 1;
			}
		}
		return;
	}
	c = &t->ch[sc];
	pit_sync(c, T);
	if (rw == RW_LATCH) {
		pit_latch_count(c, T);
		return;
	}
	/* A control word resets the counter's logic; OUT goes to the mode's
	 * initial state (low in mode 0, high otherwise) and CE keeps its
	 * (now meaningless) value until a count is loaded. */
	c->ce_idle = pit_ce(c, T);
	c->ctrl = v & 0x3F;
	c->rw = (uint8_t)rw;
	c->mode = (uint8_t)(mode > 5 ? mode - 4 : mode);
	c->bcd = v & CW_BCD;
	c->have_count = 0;
	c->running = 0;
	c->pending = 0;
	c->tc_done = 0;
	c->out_idle = c->mode == 0 ? 0 : 1;
	c->write_msb = c->read_msb = 0;
	c->count_latched = c->status_latched = 0;
	c->null_count = 1;
	c->load_tick = PIT_NONE;
}

static void pit_write_counter(struct pit_channel *c, uint8_t v, uint64_t T)
{
	pit_sync(c, T);
	switch (c->rw) {
	case RW_LSB:
		c->cr = pit_decode(c, v);
		break;
	case RW_MSB:
		c->cr = pit_decode(c, (uint16_t)(v << 8));
		break;
	default:
		if (!c->write_msb) {
			c->cr_lsb = v;
			c->write_msb = 1;
			/* Mode 0: the first byte stops counting and sets OUT low. */
			if (c->mode == 0 && c->have_count) {
				pit_freeze(c, T);
				c->out_idle = 0;
			}
			return;
		}
		c->write_msb = 0;
		c->cr = pit_decode(c, (uint16_t)(c->cr_lsb | v << 8));
		break;
	}
	pit_count_written(c, T);
}

static uint8_t pit_read_counter(struct pit_channel *c, uint64_t T)
{
	uint16_t v;
	int msb;

	pit_sync(c, T);
	if (c->status_latched) {
		c->status_latched = 0;
		return c->status;
	}
	v = c->count_latched ? c->latch : pit_encode(c, pit_ce(c, T));
	switch (c->rw) {
	case RW_LSB:
		msb = 0;
		c->count_latched = 0;
		break;
	case RW_MSB:
		msb = 1;
		c->count_latched = 0;
		break;
	default:
		msb = c->read_msb;
		c->read_msb = !c->read_msb;
		if (msb)
			c->count_latched = 0;
		break;
	}
	return (uint8_t)(msb ? v >> 8 : v);
}

static uint64_t pit_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pit *t = opaque;
	uint64_t T = pit_now_tick(t);

	if (offset >= PIT_CTRL)
		return 0xFF;	/* the control word register cannot be read */
	return pit_read_counter(&t->ch[offset], T);
}

static void pit_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct pit *t = opaque;
	uint64_t T = pit_now_tick(t);

	if (offset == PIT_CTRL)
		pit_control(t, (uint8_t)value, T);
	else if (offset < PIT_CTRL)
		pit_write_counter(&t->ch[offset], (uint8_t)value, T);
	pit_update_irq0(t);
}

static uint64_t pit_portb_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pit *t = opaque;
	uint64_t T = pit_now_tick(t);
	struct pit_channel *c = &t->ch[2];

	pit_sync(c, T);
	return (t->portb & PORTB_WRITABLE) | ((T / PIT_REFRESH_TICKS) & 1 ? PORTB_REFRESH : 0) |
	       (pit_out(c, T) ? PORTB_OUT2 : 0);
}

static void pit_portb_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct pit *t = opaque;

	t->portb = (uint8_t)value & PORTB_WRITABLE;
	pit_set_gate(&t->ch[2], value & PORTB_GATE2, pit_now_tick(t));
}

struct pit *pit_new(struct memmap *m, const struct sim_clock *clk, struct irq_line irq0)
{
	struct pit *t;
	struct memmap_ports ports[2] = {
		{ .base = PIT_PORT, .count = PIT_NPORTS, .read = pit_read, .write = pit_write, .name = "pit" },
		{ .base = PIT_PORT_B, .count = 1, .read = pit_portb_read, .write = pit_portb_write,
		  .name = "port-b" },
	};
	int ret;

	if (!m || !clk) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->clk = clk;
	t->irq0 = irq0;
	for (unsigned i = 0; i < PIT_NCHANNELS; i++) {
		t->ch[i].rw = RW_BOTH;
		t->ch[i].ctrl = RW_BOTH << CW_RW_SHIFT;
		t->ch[i].gate = i != 2;	/* channels 0 and 1 have their gates tied high */
		t->ch[i].load_tick = PIT_NONE;
	}
	for (unsigned i = 0; i < 2; i++) {
		ports[i].opaque = t;
		ret = memmap_add_ports(m, &ports[i]);
		if (ret < 0) {
			/* The memory map cannot give a range back: once one is
			 * claimed the device stays allocated (leaked). */
			if (i == 0)
				free(t);
			errno = -ret;
			return NULL;
		}
	}
	return t;
}

void pit_free(struct pit *t)
{
	if (!t)
		return;
	if (t->event)
		sim_cancel(t->clk, t->event);
	free(t);
}
