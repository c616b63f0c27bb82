/* The LP's side of its local APIC (sim/apic/apic.h): the xAPIC page in
 * every engine, IA32_APIC_BASE, the x2APIC and TSC-deadline MSRs, CR8,
 * and taking interrupts, NMIs, INIT and SIPI at instruction boundaries
 * (SDM Vol. 3 6.9 "Priority Among Simultaneous Exceptions and
 * Interrupts", 8.4 "Multiple-Processor Initialization", 26.2 and 28.1 for
 * VMX non-root operation).
 *
 * Interrupts are recognised between blocks.  A LAPIC that gains something
 * for its LP kicks it (cpu_irq_kick), which only sets a flag: MMIO and IPI
 * callbacks run inside a block, where stopping the engine is not precise
 * (UNICORN-NOTES.md "Precision pitfall").  The next block hook looks, and
 * stops the engine before that block; the run loop then delivers with the
 * engine stopped and RIP exact.  RFLAGS.IF is read from the engine only
 * while something is pending, and once seen clear it is trusted until a
 * block that can set it (STI, POPF, IRET, SYSRET) runs or the model
 * itself changes the state (every return to the run loop), so an interrupt
 * held off by IF = 0 costs a flag test per block, not a register read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apic.h"
#include "cpu_priv.h"
#include "diag.h"
#include "trace.h"

/* What the LP would take at the next instruction boundary, in the
 * priority order of SDM Vol. 3 Table 6-2 (INIT before NMI before
 * maskable interrupts). */
enum intr_action {
	ACT_NONE,
	ACT_INIT,
	ACT_SIPI_DROP,	/* a SIPI outside wait-for-SIPI is discarded (SDM 8.4.4.1) */
	ACT_NMI,
	ACT_INTR,	/* a maskable interrupt through the IDT */
	ACT_EXT_EXIT,	/* non-root: external-interrupt exiting */
	ACT_SIPI_EXIT,	/* non-root, wait-for-SIPI activity state: a SIPI exits */
};

static void pull_events(struct cpu *c)
{
	uint8_t v = 0;
	unsigned ev = lapic_take_events(c->lapic, &v);

	if (ev & LAPIC_EV_SIPI)
		c->sipi_vector = v;
	c->apic_ev |= ev;
}

static int guest_pin(struct cpu *c, uint32_t bit)
{
	return c->vmx.nonroot && (vmx_pin_controls(c) & bit);
}

/* `if_known`: -1 to read RFLAGS.IF from the engine, else its value.
 * *idle (may be NULL) is set when nothing at all is pending, so the LP
 * can stop looking until the next kick. */
static enum intr_action intr_what(struct cpu *c, int if_known, int *idle)
{
	int v;

	if (idle)
		*idle = 0;

	if (lapic_pending_events(c->lapic))
		pull_events(c);
	/* INIT is blocked in VMX root operation (SDM 23.8) and stays
	 * pending; in non-root operation it exits (SDM 25.2). */
	if ((c->apic_ev & LAPIC_EV_INIT) && !(c->vmx.on && !c->vmx.nonroot))
		return ACT_INIT;
	/* A guest in the wait-for-SIPI activity state takes only INIT and
	 * SIPI, each as a VM exit (SDM 25.2, 26.6.2); the rest waits. */
	if (c->vmx.nonroot && c->vmx.guest_halted == GUEST_ACTIVITY_WAIT_SIPI)
		return (c->apic_ev & LAPIC_EV_SIPI) ? ACT_SIPI_EXIT : ACT_NONE;
	if (c->apic_ev & LAPIC_EV_SIPI)
		return ACT_SIPI_DROP;
	if (c->apic_ev & LAPIC_EV_SMI)
		c->apic_ev &= ~LAPIC_EV_SMI;	/* no SMM: dropped (docs/platform.md) */
	if (c->apic_ev & LAPIC_EV_NMI) {
		if (guest_pin(c, PIN_BASED_NMI_EXITING))
			return ACT_NMI;
		/* Blocking by MOV SS holds NMIs off for one instruction, and
		 * so does blocking by STI on some processors (SDM Vol. 3
		 * 6.8.3); hvsim's CPU is one of them (Unicorn keeps one flag
		 * for both). */
		if ((c->vmx.nonroot ? !c->vmx.nmi_blocked : !c->nmi_blocked) && !cpu_ctx_inhibited(c->e->ctx))
			return ACT_NMI;
	}
	v = lapic_has_intr(c->lapic);
	if (v < 0) {
		if (idle && !c->apic_ev)
			*idle = 1;
		return ACT_NONE;
	}
	if (guest_pin(c, PIN_BASED_EXT_INTR_EXITING))
		return ACT_EXT_EXIT;	/* regardless of RFLAGS.IF (SDM 25.2) */
	if (if_known < 0) {
		if (c->if_clear)
			return ACT_NONE;
		if (!(reg(c, UC_X86_REG_RFLAGS) & RFLAGS_IF)) {
			c->if_clear = 1;
			return ACT_NONE;
		}
	} else if (!if_known) {
		return ACT_NONE;
	}
	/* Blocking by STI or MOV SS holds for one instruction (SDM 6.8.3). */
	if (cpu_ctx_inhibited(c->e->ctx))
		return ACT_NONE;
	return ACT_INTR;
}

void cpu_irq_kick(struct cpu *c)
{
	c->irq_hint = 1;
}

/* Block hook: stop before this block if something is to be taken. */
int intr_block_check(struct cpu *c)
{
	int idle;

	if (intr_what(c, -1, &idle) != ACT_NONE)
		return 1;
	/* Nothing pending at all: stop looking until the next kick.  What is
	 * held off (IF = 0, an STI shadow, NMI blocking) is looked at again
	 * at every boundary; RFLAGS is read only once IF may have changed. */
	if (idle)
		c->irq_hint = 0;
	return 0;
}

/* ---- interrupt routing statistics ---- */

_Static_assert(CPU_IRQ_KINDS == IRQ_SRC_KINDS, "one statistics slot per source kind");

const char *cpu_irq_stage_name(enum cpu_irq_stage s)
{
	static const char *const names[CPU_IRQ_STAGES] = {
		"route", "accept", "ack", "exit", "dispatch", "deliver", "eoi", "total",
	};

	return (unsigned)s < CPU_IRQ_STAGES ? names[s] : NULL;
}

void intr_sample(struct cpu *c, unsigned kind, enum cpu_irq_stage st, uint64_t ps)
{
	cpu_irq_sample(&c->irq, kind, st, ps);
}

void cpu_irq_sample(struct cpu_irq_stats *stats, unsigned kind, enum cpu_irq_stage st, uint64_t ps)
{
	struct cpu_irq_samples *s = &stats->kind[kind].stage[st];

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		uint64_t *v = realloc(s->ps, cap * sizeof(*v));

		if (!v)
			return;	/* statistics only: the sample is lost */
		s->ps = v;
		s->cap = cap;
	}
	s->ps[s->n++] = ps;
}

static uint64_t ps_at(struct cpu *c, uint64_t cycles)
{
	return sim_cycles_to_ps(cycles, c->prof->freq_khz);
}

/* The LP's clock in ps, never before `floor`: an LP acts at whole
 * cycles, so a device event between two cycle boundaries (the LAPIC
 * accepting an interrupt) can come up to a cycle after the LP's clock
 * says; the LP's next step happens no earlier than the event.  Keeps
 * every stage of an interrupt >= 0, so the stages sum to the total. */
static uint64_t ps_after(struct cpu *c, uint64_t cycles, uint64_t floor)
{
	uint64_t ps = ps_at(c, cycles);

	return ps > floor ? ps : floor;
}

/* Vector `vec` (origin *o) was acknowledged now; `exited`: by an
 * acknowledge-on-exit VM exit, for the hypervisor to pass on. */
static void irq_acked(struct cpu *c, unsigned vec, const struct irq_origin *o, int exited)
{
	struct cpu_irq_flight *f = &c->flight[vec & 0xff];

	if (o->kind >= IRQ_SRC_KINDS)
		return;
	*f = (struct cpu_irq_flight){
		.valid = 1, .exited = exited, .hv_own = exited && o->kind == IRQ_SRC_HV_KICK, .kind = o->kind, .pin = o->pin,
		.assert_ps = o->assert_ps, .route_ps = o->route_ps, .accept_ps = o->accept_ps,
		.ack_ps = ps_after(c, c->cycles, o->accept_ps),
	};
}

static uint64_t span(uint64_t from, uint64_t to)
{
	return to > from ? to - from : 0;
}

/* The handler of `vec` starts now: its routing up to here is complete.
 * A kick that exited has no handler in the guest: the hypervisor's exit
 * handler, which starts as the exit completes, is its handler. */
static void irq_handler_starts(struct cpu *c, unsigned vec)
{
	struct cpu_irq_flight *f = &c->flight[vec & 0xff];
	uint64_t now;

	if (!f->valid || f->handler_ps)
		return;
	now = f->hv_own ? f->exit_done_ps : ps_after(c, c->cycles, f->exited ? f->entry_ps : f->ack_ps);
	f->handler_ps = now;
	c->irq.kind[f->kind].count++;
	intr_sample(c, f->kind, CPU_IRQ_ROUTE, span(f->assert_ps, f->route_ps));
	intr_sample(c, f->kind, CPU_IRQ_ACCEPT, span(f->route_ps, f->accept_ps));
	intr_sample(c, f->kind, CPU_IRQ_ACK, span(f->accept_ps, f->ack_ps));
	if (f->hv_own) {
		intr_sample(c, f->kind, CPU_IRQ_EXIT, span(f->ack_ps, now));
	} else if (f->exited) {
		intr_sample(c, f->kind, CPU_IRQ_EXIT, span(f->ack_ps, f->exit_done_ps));
		intr_sample(c, f->kind, CPU_IRQ_DISPATCH, span(f->exit_done_ps, f->entry_ps));
		intr_sample(c, f->kind, CPU_IRQ_DELIVER, span(f->entry_ps, now));
	} else {
		intr_sample(c, f->kind, CPU_IRQ_DELIVER, span(f->ack_ps, now));
	}
	intr_sample(c, f->kind, CPU_IRQ_TOTAL, span(f->assert_ps, now));
	if (c->trace) {
		struct trace_event ev = {
			.cycle = c->cycles, .kind = TRACE_INTERRUPT, .lp = (uint16_t)c->index,
			.arg = { vec | (uint64_t)f->kind << 8 | (uint64_t)f->pin << 16, f->assert_ps, f->ack_ps, now },
		};

		marks_current(c, &ev.partition, &ev.vp);
		trace_emit(c->trace, &ev);
		/* The times in between, for the stages (0 where a stage did
		 * not apply: no VM exit on the way). */
		ev.kind = TRACE_INTERRUPT_STAGES;
		ev.arg[0] = f->route_ps;
		ev.arg[1] = f->accept_ps;
		ev.arg[2] = f->exited ? f->exit_done_ps : 0;
		ev.arg[3] = f->exited && !f->hv_own ? f->entry_ps : 0;
		trace_emit(c->trace, &ev);
	}
}

void intr_kick_marker(struct cpu *c)
{
	if (c->lapic)
		lapic_set_ipi_kind(c->lapic, IRQ_SRC_HV_KICK);
}

/* The LAPIC took an EOI for `vec`: the last stage of its routing. */
static void irq_eoi_seen(struct cpu *c, unsigned vec)
{
	struct cpu_irq_flight *f = &c->flight[vec & 0xff];

	if (!f->valid || !f->handler_ps)
		return;
	intr_sample(c, f->kind, CPU_IRQ_EOI, span(f->handler_ps, ps_at(c, c->cycles)));
	f->valid = 0;
}

void intr_injected(struct cpu *c, unsigned vec, uint64_t entry_begin)
{
	struct cpu_irq_flight *f = &c->flight[vec & 0xff];

	if (synth_injected(c, vec, entry_begin))
		return;
	if (!f->valid || !f->exited || f->handler_ps)
		return;
	f->entry_ps = ps_after(c, entry_begin, f->exit_done_ps);
	irq_handler_starts(c, vec);
}

const struct cpu_irq_stats *cpu_get_irq_stats(const struct cpu *c)
{
	return &c->irq;
}

void intr_free(struct cpu *c)
{
	for (unsigned k = 0; k < CPU_IRQ_KINDS; k++)
		for (unsigned s = 0; s < CPU_IRQ_STAGES; s++)
			free(c->irq.kind[k].stage[s].ps);
	memset(&c->irq, 0, sizeof(c->irq));
}

/* ---- taking events ---- */

/* INIT outside VMX root operation (SDM Vol. 3 8.4.1, 10.4.7.3): the LP
 * resets its LAPIC and waits for a SIPI.  On hvsim the BSP does too:
 * there is no BIOS at the reset vector to restart. */
static void take_init(struct cpu *c)
{
	/* A SIPI pending with it follows it (cpu_poll_wake). */
	c->apic_ev &= ~(LAPIC_EV_INIT | LAPIC_EV_NMI);
	if (c->vmx.nonroot) {
		vmx_event_exit(c, EXIT_REASON_INIT_SIGNAL, 0, 0);
		return;
	}
	lapic_reset(c->lapic, 1);
	c->nmi_blocked = 0;
	c->state = CPU_WAIT_SIPI;
}

/* Deliver what intr_what found; the engine is stopped and RIP exact. */
static void take(struct cpu *c, enum intr_action a)
{
	struct irq_origin o;
	uint64_t rip = reg(c, UC_X86_REG_RIP);
	int vec;

	switch (a) {
	case ACT_NONE:
		return;
	case ACT_INIT:
		take_init(c);
		return;
	case ACT_SIPI_DROP:
		c->apic_ev &= ~LAPIC_EV_SIPI;
		return;
	case ACT_SIPI_EXIT:
		/* The exit qualification is the SIPI's vector (SDM 28.2.1);
		 * the activity state saved stays wait-for-SIPI. */
		c->apic_ev &= ~LAPIC_EV_SIPI;
		vmx_event_exit(c, EXIT_REASON_SIPI, c->sipi_vector, 0);
		return;
	case ACT_NMI:
		c->apic_ev &= ~LAPIC_EV_NMI;
		if (guest_pin(c, PIN_BASED_NMI_EXITING)) {
			/* SDM 28.2.2: NMI exits report vector 2, type NMI. */
			vmx_event_exit(c, EXIT_REASON_EXCEPTION_NMI, 0,
				       INTR_INFO_VALID | VEC_NMI | INTR_TYPE_NMI << INTR_INFO_TYPE_SHIFT);
			return;
		}
		if (c->vmx.nonroot) {
			c->vmx.nmi_blocked = 1;
			c->vmx.guest_halted = 0;	/* delivery ends the HLT state */
		} else {
			c->nmi_blocked = 1;
		}
		cpu_raise_event(c, VEC_NMI, EV_EXT, 0, rip);
		return;
	case ACT_EXT_EXIT: {
		uint32_t info = 0;

		/* Acknowledge interrupt on exit (SDM 28.2.2): the vector goes
		 * to the exit interruption information; otherwise it stays
		 * pending in the LAPIC for the host to take. */
		if (vmx_exit_controls(c) & VM_EXIT_ACK_INTR_ON_EXIT) {
			vec = lapic_ack_intr(c->lapic, &o);
			irq_acked(c, (unsigned)vec, &o, 1);
			info = INTR_INFO_VALID | (uint32_t)vec | INTR_TYPE_EXT_INTR << INTR_INFO_TYPE_SHIFT;
		}
		vmx_event_exit(c, EXIT_REASON_EXTERNAL_INTERRUPT, 0, info);
		if (info && c->flight[info & 0xff].valid) {
			c->flight[info & 0xff].exit_done_ps = ps_after(c, c->cycles, c->flight[info & 0xff].ack_ps);
			if (c->flight[info & 0xff].hv_own)
				irq_handler_starts(c, info & 0xff);
		}
		return;
	}
	case ACT_INTR:
		c->vmx.guest_halted = 0;	/* a guest's HLT state ends with the delivery */
		vec = lapic_ack_intr(c->lapic, &o);
		irq_acked(c, (unsigned)vec, &o, 0);
		cpu_raise_event(c, (unsigned)vec, EV_EXT, 0, rip);
		irq_handler_starts(c, (unsigned)vec);
		return;
	}
}

/* Run loop, engine stopped: take the highest-priority pending event.
 * Returns 1 if something was taken (the state changed). */
int intr_service(struct cpu *c)
{
	enum intr_action a;
	int idle;

	if (!c->lapic || !c->irq_hint)
		return 0;
	c->if_clear = 0;	/* the model may have changed RFLAGS */
	a = intr_what(c, -1, &idle);
	if (a == ACT_NONE) {
		if (idle)
			c->irq_hint = 0;
		return 0;
	}
	take(c, a);
	return 1;
}

/* The wake-up check of a halted or waiting LP (SDM Vol. 3 8.4.4.1 for
 * wait-for-SIPI; HLT ends on an interrupt it can take, an NMI or INIT). */
enum cpu_run_state cpu_poll_wake(struct cpu *c)
{
	enum intr_action a;

	if (!c->lapic || (c->state != CPU_HALTED && c->state != CPU_WAIT_SIPI))
		return c->state;
	if (lapic_pending_events(c->lapic))
		pull_events(c);
	if (c->state == CPU_WAIT_SIPI) {
		/* An INIT and a SIPI seen together came in that order (the
		 * LAPIC keeps no order; the MP protocol sends INIT first). */
		if (c->apic_ev & LAPIC_EV_INIT) {
			lapic_reset(c->lapic, 1);
			c->apic_ev &= ~LAPIC_EV_INIT;
		}
		if (c->apic_ev & LAPIC_EV_SIPI) {
			/* SDM 8.4.4.1: CS = vector << 8, IP = 0, real mode. */
			struct boot_entry e = { .mode = BOOT_MODE_REAL16, .rip = (uint64_t)c->sipi_vector << 12 };

			c->apic_ev &= ~(LAPIC_EV_SIPI | LAPIC_EV_NMI);
			if (cpu_boot(c, &e))
				cpu_shutdown(c, "host: cannot start the LP at SIPI vector 0x%02x", c->sipi_vector);
			c->irq_hint = 1;
		}
		c->apic_ev &= ~(LAPIC_EV_NMI | LAPIC_EV_SMI);	/* ignored while waiting (SDM 8.4.1) */
		return c->state;
	}
	/* A guest's preemption timer ends its HLT: the block hook takes
	 * the exit before anything runs (vmx_block_check). */
	if (c->vmx.nonroot && c->vmx.preempt_deadline >= 0 && c->cycles >= (uint64_t)c->vmx.preempt_deadline &&
	    c->vmx.guest_halted != GUEST_ACTIVITY_WAIT_SIPI) {
		c->state = CPU_RUNNING;
		return c->state;
	}
	c->if_clear = 0;
	a = intr_what(c, -1, NULL);
	if (a == ACT_SIPI_DROP) {
		c->apic_ev &= ~LAPIC_EV_SIPI;
		a = intr_what(c, -1, NULL);
	}
	if (a != ACT_NONE) {
		c->state = CPU_RUNNING;
		c->irq_hint = 1;
	}
	return c->state;
}

/* ---- the xAPIC page, MSRs and CR8 ---- */

static uint64_t apic_mmio_read(uc_engine *uc, uint64_t off, unsigned size, void *opaque)
{
	struct cpu *c = opaque;
	uint32_t v = lapic_mmio_read(c->lapic, (uint32_t)off & 0xff0u);

	/* Registers are 32 bits wide at 16-byte strides (SDM 10.4.1);
	 * narrower reads see their bytes. */
	if ((off & 0xf) >= 4)
		return 0;
	v >>= (off & 3) * 8;
	return size >= 4 ? v : v & ((1u << (size * 8)) - 1);
}

static void apic_mmio_write(uc_engine *uc, uint64_t off, unsigned size, uint64_t value, void *opaque)
{
	struct cpu *c = opaque;
	uint32_t reg_off = (uint32_t)off & 0xff0u;

	if ((off & 0xf) != 0)
		return;	/* only the register's first dword is writable */
	if (reg_off == 0xb0) {
		int v = lapic_isr_top(c->lapic);

		lapic_mmio_write(c->lapic, reg_off, (uint32_t)value);
		if (v >= 0)
			irq_eoi_seen(c, (unsigned)v);
		return;
	}
	lapic_mmio_write(c->lapic, reg_off, (uint32_t)value);
}

static void map_apic_page(struct cpu *c, struct engine *e)
{
	uint64_t base = c->apic_page;

	if (!e->uc || base == ~0ull)
		return;
	/* An open-bus page mapped there earlier gives way. */
	uc_mem_unmap(e->uc, base, 0x1000);
	if (uc_mmio_map(e->uc, base, 0x1000, apic_mmio_read, c, apic_mmio_write, c) != UC_ERR_OK)
		diag_error("LP%u: cannot map the local APIC page at 0x%llx; its registers read as open bus",
			   c->index, (unsigned long long)base);
}

static void for_each_engine(struct cpu *c, void (*fn)(struct cpu *, struct engine *))
{
	fn(c, &c->root);
	fn(c, &c->guest);
	for (unsigned i = 0; i < VMX_GUEST_ENGINES; i++)
		fn(c, &c->vmx.guests[i]);
}

static void unmap_apic_page(struct cpu *c, struct engine *e)
{
	if (e->uc && c->apic_page != ~0ull)
		uc_mem_unmap(e->uc, c->apic_page, 0x1000);
}

/* IA32_APIC_BASE moved the page or switched the xAPIC interface on or
 * off (SDM 10.4.5, 10.12.2: no MMIO interface in x2APIC mode). */
static uint64_t want_page(struct cpu *c)
{
	return lapic_xapic_mmio_enabled(c->lapic) ? lapic_mmio_base(c->lapic) : ~0ull;
}

/* With the engine stopped.  Returns 1 if the mapping changed. */
static int apic_page_update(struct cpu *c)
{
	uint64_t want = want_page(c);

	if (want == c->apic_page)
		return 0;
	for_each_engine(c, unmap_apic_page);
	c->apic_page = want;
	for_each_engine(c, map_apic_page);
	return 1;
}

/* Run loop: carry out an IA32_APIC_BASE change (intr_msr_write). */
void intr_remap(struct cpu *c)
{
	c->apic_remap = 0;
	/* Code translated from the pages the move remapped is stale.  All of
	 * it goes: uc_ctl_remove_cache() over the whole address space does
	 * nothing in Unicorn 2.1.1 (its range wraps), and a move is rare. */
	if (apic_page_update(c))
		uc_ctl_flush_tb(c->e->uc);
}

void intr_engine_opened(struct cpu *c, struct engine *e)
{
	if (c->lapic)
		map_apic_page(c, e);
}

/* MSRs the LAPIC owns: returns 1 if `idx` is one (then *gp says #GP). */
int intr_msr_read(struct cpu *c, uint32_t idx, uint64_t *v, int *gp)
{
	if (!c->lapic)
		return 0;
	*gp = 0;
	if (idx == MSR_IA32_APIC_BASE) {
		*v = lapic_base_msr(c->lapic);
	} else if (idx == MSR_IA32_TSC_DEADLINE) {
		*v = lapic_tsc_deadline(c->lapic);
	} else if (idx >= MSR_X2APIC_FIRST && idx <= MSR_X2APIC_LAST) {
		*gp = lapic_msr_read(c->lapic, idx, v) != 0;
	} else {
		return 0;
	}
	return 1;
}

int intr_msr_write(struct cpu *c, uint32_t idx, uint64_t v, int *gp)
{
	if (!c->lapic)
		return 0;
	*gp = 0;
	if (idx == MSR_IA32_APIC_BASE) {
		*gp = lapic_write_base_msr(c->lapic, v) != 0;
		/* Remapping engines from inside a hook pulls memory from under
		 * the translation block that runs: the run loop does it. */
		if (!*gp && want_page(c) != c->apic_page) {
			c->apic_remap = 1;
			stop_engine(c);
		}
	} else if (idx == MSR_IA32_TSC_DEADLINE) {
		/* The deadline is in the LP's TSC (with IA32_TSC_ADJUST's
		 * offset): the LAPIC counts from time 0 at the TSC rate. */
		int64_t d = (int64_t)v - c->tsc_offset;

		lapic_set_tsc_deadline(c->lapic, v == 0 ? 0 : d > 0 ? (uint64_t)d : 1);
	} else if (idx >= MSR_X2APIC_FIRST && idx <= MSR_X2APIC_LAST) {
		int top = idx == MSR_X2APIC_FIRST + 0xb ? lapic_isr_top(c->lapic) : -1;

		*gp = lapic_msr_write(c->lapic, idx, v) != 0;
		if (!*gp && top >= 0)
			irq_eoi_seen(c, (unsigned)top);
	} else {
		return 0;
	}
	return 1;
}

/* MOV to or from CR8 (SDM Vol. 3 10.8.6.1: CR8[3:0] is TPR[7:4]; bits
 * 63:4 are reserved, #GP if set).  `write`: MOV to CR8 from the GPR
 * Unicorn calls `ucr`.  Returns 1 if carried out (or faulted). */
int intr_cr8(struct cpu *c, int write, int ucr, uint64_t addr, unsigned size)
{
	if (!c->lapic)
		return 0;
	if (!write) {
		set_reg(c, ucr, lapic_tpr(c->lapic) >> 4);
	} else {
		uint64_t v = reg(c, ucr);

		if (v >> 4) {
			cpu_raise_from_hook(c, VEC_GP, 0);
			return 1;
		}
		lapic_set_tpr(c->lapic, (uint8_t)(v << 4));
	}
	cpu_continue_after_site(c, addr, size);
	return 1;
}

int intr_init(struct cpu *c, struct lapic *l)
{
	c->lapic = l;
	c->apic_page = ~0ull;
	if (l)
		apic_page_update(c);
	return 0;
}
