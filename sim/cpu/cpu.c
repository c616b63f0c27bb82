/* One logical processor on a Unicorn engine.  See cpu.h and DESIGN.md
 * "Execution model on Unicorn". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include <capstone/capstone.h>

#include "apic.h"
#include "cpu_priv.h"
#include "diag.h"

static int calibrated;

int cpu_selfcheck(void)
{
	int rc;

	if (calibrated)
		return 0;
	rc = cpu_ctx_calibrate();
	if (!rc)
		calibrated = 1;
	return rc;
}

void cpu_shutdown(struct cpu *c, const char *fmt, ...) SIM_PRINTF(2, 3);

void cpu_shutdown(struct cpu *c, const char *fmt, ...)
{
	va_list ap;

	if (c->state == CPU_SHUTDOWN)
		return;
	va_start(ap, fmt);
	vsnprintf(c->shutdown_reason, sizeof(c->shutdown_reason), fmt, ap);
	va_end(ap);
	c->state = CPU_SHUTDOWN;
}

unsigned cpu_cpl(struct cpu *c)
{
	if (!(reg(c, UC_X86_REG_CR0) & CR0_PE))
		return 0;
	/* Virtual-8086 mode does not exist in IA-32e mode (SDM Vol. 3 2.2).
	 * Looking at EFER.LMA first also keeps out a stale RFLAGS: read from
	 * a hook inside a block, Unicorn's RFLAGS is computed from lazy
	 * condition codes that can hold any value, and VM has been seen set
	 * at CPL 0 (a 64-bit guest's TLB fill then walked as CPL 3). */
	if (!(cpu_engine_msr(c, MSR_EFER) & EFER_LMA) && (reg(c, UC_X86_REG_RFLAGS) & RFLAGS_VM))
		return 3;
	return (unsigned)reg(c, UC_X86_REG_CS) & 3;
}


/* ---- linear addresses (SDM Vol. 3 ch. 4) ------------------------------- */

/* Page-fault error code bits (SDM Vol. 3 4.7). */
#define PF_P 1u
#define PF_W 2u
#define PF_U 4u
#define PF_RSVD 8u
#define PF_I 16u

static int phys_read64(struct cpu *c, uint64_t pa, uint64_t *v)
{
	return memmap_read_phys(c->mem, pa, v, 8);
}

/* Translate a linear address for an access by the processor itself
 * (supervisor, as for IDT, GDT and stack accesses during delivery) or
 * for fetching code.  Returns 0, or VEC_PF with *err set, or -EFAULT when
 * a paging structure is not in RAM (the caller treats it as a fault). */
int cpu_translate_root(struct cpu *c, uint64_t lin, int write, uint64_t *pa, uint32_t *err)
{
	uint64_t cr0 = reg(c, UC_X86_REG_CR0), cr3 = reg(c, UC_X86_REG_CR3);
	uint64_t cr4 = reg(c, UC_X86_REG_CR4), efer = cpu_engine_msr(c, MSR_EFER);
	uint64_t e;
	int wp = !!(cr0 & CR0_WP);

	*err = write ? PF_W : 0;
	if (!(cr0 & CR0_PG)) {
		*pa = lin & 0xffffffffull;
		if (efer & EFER_LMA)
			*pa = lin;
		return 0;
	}
	if (!(cr4 & CR4_PAE)) {
		/* 32-bit paging */
		uint32_t pde, pte, l = (uint32_t)lin;

		if (memmap_read_phys(c->mem, (cr3 & 0xfffff000) + ((l >> 22) << 2), &pde, 4))
			return -EFAULT;
		if (!(pde & 1))
			return VEC_PF;
		if ((pde & 0x80) && (cr4 & CR4_PSE)) {
			if (write && wp && !(pde & 2))
				return *err |= PF_P, VEC_PF;
			*pa = (pde & 0xffc00000) | (l & 0x3fffff);
			return 0;
		}
		if (memmap_read_phys(c->mem, (pde & 0xfffff000) + (((l >> 12) & 0x3ff) << 2), &pte, 4))
			return -EFAULT;
		if (!(pte & 1))
			return VEC_PF;
		if (write && wp && (!(pte & 2) || !(pde & 2)))
			return *err |= PF_P, VEC_PF;
		*pa = (pte & 0xfffff000) | (l & 0xfff);
		return 0;
	}

	uint64_t table, mask = 0x000ffffffffff000ull;
	int levels, rw = 1;

	if (efer & EFER_LMA) {
		levels = 4;
		table = cr3 & mask;
	} else {
		/* PAE: the PDPTE selected by bits 31:30 (SDM 4.4.1). */
		if (phys_read64(c, (cr3 & 0xffffffe0) + ((lin >> 30) & 3) * 8, &e))
			return -EFAULT;
		if (!(e & 1))
			return VEC_PF;
		table = e & mask;
		levels = 2;
	}
	for (int lvl = levels; lvl >= 1; lvl--) {
		unsigned shift = 12 + 9 * (lvl - 1);

		if (phys_read64(c, table + ((lin >> shift) & 0x1ff) * 8, &e))
			return -EFAULT;
		if (!(e & 1))
			return VEC_PF;
		rw &= !!(e & 2);
		if (lvl == 1 || ((e & 0x80) && lvl <= 3)) {
			uint64_t psize = 1ull << shift;

			if (write && wp && !rw)
				return *err |= PF_P, VEC_PF;
			*pa = (e & mask & ~(psize - 1)) | (lin & (psize - 1));
			return 0;
		}
		table = e & mask;
	}
	return VEC_PF;
}

/* Copy between a linear range and a buffer, page by page.  write: 0 data
 * read, 1 data write, 2 instruction fetch (a read of code bytes: EPT
 * checks it as a fetch, so execute-only pages decode; SDM 29.3.3.2). */
int cpu_lin_access(struct cpu *c, uint64_t lin, void *buf, size_t n, int write, uint32_t *err,
		      uint64_t *fault_lin)
{
	uint8_t *b = buf;

	while (n) {
		uint64_t pa;
		size_t chunk = 0x1000 - (lin & 0xfff);
		int r;

		if (chunk > n)
			chunk = n;
		r = c->vmx.nonroot ? vmx_translate(c, lin, write, &pa, err) :
				     cpu_translate_root(c, lin, write == 1, &pa, err);
		if (r) {
			*fault_lin = lin;
			return r;
		}
		r = write == 1 ? memmap_write_phys(c->mem, pa, b, chunk) : memmap_read_phys(c->mem, pa, b, chunk);
		if (r) {
			*fault_lin = lin;
			return -EFAULT;
		}
		lin += chunk;
		b += chunk;
		n -= chunk;
	}
	return 0;
}

/* Reads for the model's own purposes (cpu_priv.h).  Only what the guest
 * itself does is priced (DESIGN.md "Costs"; docs/vmx.md "Costs"): in
 * non-root operation a host-side translation would otherwise be charged
 * as a TLB miss with its EPT walk every time, set accessed flags and
 * could leave an EPT exit pending.  Root operation's walk
 * (cpu_translate_root) has no price and no side effect to hold back. */
int cpu_lin_peek(struct cpu *c, uint64_t lin, void *buf, size_t n, int fetch)
{
	struct vmx *x = &c->vmx;
	struct vmx_pending p;
	unsigned perms;
	uint32_t err;
	uint64_t fl;
	int dirty, saved, r;

	if (!x->nonroot)
		return cpu_lin_access(c, lin, buf, n, fetch ? 2 : 0, &err, &fl);
	p = x->p;
	perms = x->ept_perms;
	dirty = x->ept_dirty;
	saved = x->peek;
	x->peek = 1;
	r = cpu_lin_access(c, lin, buf, n, fetch ? 2 : 0, &err, &fl);
	x->peek = saved;
	x->p = p;
	x->ept_perms = perms;
	x->ept_dirty = dirty;
	return r;
}

/* ---- block pricing --------------------------------------------------- */

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static struct block *block_find(struct cpu *c, uint64_t addr, uint32_t size)
{
	size_t mask = c->e->cap - 1;

	for (size_t i = hash64(addr ^ ((uint64_t)size << 48)) & mask;; i = (i + 1) & mask) {
		struct block *b = &c->e->blocks[i];

		if (!b->size)
			return NULL;
		if (b->addr == addr && b->size == size)
			return b;
	}
}

static struct block *block_insert(struct cpu *c, const struct block *nb)
{
	size_t mask;

	if ((c->e->nblocks + 1) * 2 > c->e->cap) {
		size_t ocap = c->e->cap;
		struct block *old = c->e->blocks;

		c->e->cap = ocap ? ocap * 2 : 4096;
		c->e->blocks = calloc(c->e->cap, sizeof(*c->e->blocks));
		if (!c->e->blocks)
			abort();
		c->e->nblocks = 0;
		for (size_t i = 0; i < ocap; i++)
			if (old[i].size)
				block_insert(c, &old[i]);
		free(old);
	}
	mask = c->e->cap - 1;
	for (size_t i = hash64(nb->addr ^ ((uint64_t)nb->size << 48)) & mask;; i = (i + 1) & mask) {
		if (!c->e->blocks[i].size) {
			c->e->blocks[i] = *nb;
			c->e->nblocks++;
			return &c->e->blocks[i];
		}
	}
}

static struct site *site_find(struct cpu *c, uint64_t addr)
{
	size_t mask = c->e->site_cap - 1;

	if (!c->e->site_cap)
		return NULL;
	for (size_t i = hash64(addr) & mask;; i = (i + 1) & mask) {
		if (!c->e->sites[i].kind)
			return NULL;
		if (c->e->sites[i].addr == addr)
			return &c->e->sites[i];
	}
}

/* Capstone register -> (Unicorn register, GPR number 0-15).  -1 if not a
 * general-purpose register. */
int cpu_cs_gpr(unsigned r, int *ucr)
{
	static const struct { unsigned cs[3]; int uc; } t[16] = {
		{ { X86_REG_RAX, X86_REG_EAX, X86_REG_AX }, UC_X86_REG_RAX },
		{ { X86_REG_RCX, X86_REG_ECX, X86_REG_CX }, UC_X86_REG_RCX },
		{ { X86_REG_RDX, X86_REG_EDX, X86_REG_DX }, UC_X86_REG_RDX },
		{ { X86_REG_RBX, X86_REG_EBX, X86_REG_BX }, UC_X86_REG_RBX },
		{ { X86_REG_RSP, X86_REG_ESP, X86_REG_SP }, UC_X86_REG_RSP },
		{ { X86_REG_RBP, X86_REG_EBP, X86_REG_BP }, UC_X86_REG_RBP },
		{ { X86_REG_RSI, X86_REG_ESI, X86_REG_SI }, UC_X86_REG_RSI },
		{ { X86_REG_RDI, X86_REG_EDI, X86_REG_DI }, UC_X86_REG_RDI },
		{ { X86_REG_R8, X86_REG_R8D, X86_REG_R8W }, UC_X86_REG_R8 },
		{ { X86_REG_R9, X86_REG_R9D, X86_REG_R9W }, UC_X86_REG_R9 },
		{ { X86_REG_R10, X86_REG_R10D, X86_REG_R10W }, UC_X86_REG_R10 },
		{ { X86_REG_R11, X86_REG_R11D, X86_REG_R11W }, UC_X86_REG_R11 },
		{ { X86_REG_R12, X86_REG_R12D, X86_REG_R12W }, UC_X86_REG_R12 },
		{ { X86_REG_R13, X86_REG_R13D, X86_REG_R13W }, UC_X86_REG_R13 },
		{ { X86_REG_R14, X86_REG_R14D, X86_REG_R14W }, UC_X86_REG_R14 },
		{ { X86_REG_R15, X86_REG_R15D, X86_REG_R15W }, UC_X86_REG_R15 },
	};

	for (int i = 0; i < 16; i++)
		for (int k = 0; k < 3; k++)
			if (t[i].cs[k] == r) {
				if (ucr)
					*ucr = t[i].uc;
				return i;
			}
	return -1;
}

static void site_insert(struct cpu *c, const struct site *st)
{
	size_t mask;

	if ((c->e->nsites + 1) * 2 > c->e->site_cap) {
		size_t ocap = c->e->site_cap;
		struct site *old = c->e->sites;

		c->e->site_cap = ocap ? ocap * 2 : 64;
		c->e->sites = calloc(c->e->site_cap, sizeof(*c->e->sites));
		if (!c->e->sites)
			abort();
		c->e->nsites = 0;
		for (size_t i = 0; i < ocap; i++)
			if (old[i].kind)
				site_insert(c, &old[i]);
		free(old);
	}
	mask = c->e->site_cap - 1;
	for (size_t i = hash64(st->addr) & mask;; i = (i + 1) & mask) {
		if (!c->e->sites[i].kind) {
			c->e->sites[i] = *st;
			c->e->nsites++;
			return;
		}
	}
}

static void hook_site(uc_engine *uc, uint64_t addr, uint32_t size, void *user);
static int ac_hooked(struct cpu *c);

/* First sight of a block: decode and price it once.  Returns NULL when
 * the block must be retranslated first (new site hooks). */
static const struct block *block_price(struct cpu *c, uint64_t addr, uint32_t size)
{
	uint8_t code[4096];
	struct cost_block cb;
	struct block nb = { .addr = addr, .size = size };
	int added = 0;
	size_t len = size;

	if (!len || len > sizeof(code))
		len = len ? sizeof(code) : 16;
	/* Decoding is the model's business, not an instruction fetch: the
	 * guest's fetch was priced when Unicorn filled its TLB for the
	 * block (vmx.c tlb_fill), once per page as any access is. */
	if (cpu_lin_peek(c, addr, code, len, 1)) {
		/* Code outside RAM (e.g. an MMIO window): price it as "other". */
		nb.ninsn = 1;
		nb.cycles = c->prof->cost[COST_OTHER];
		return block_insert(c, &nb);
	}
	cost_price_block(c->cm, code, len, addr, cpu_ctx_code_bits(c->e->ctx), 0, &cb);
	nb.ninsn = cb.ninsn;
	nb.cycles = cb.cycles;
	nb.flags = cb.flags;
	c->st.blocks_decoded++;
	if (cb.nsites) {
		nb.detail = malloc(sizeof(cb));
		if (!nb.detail)
			abort();
		*nb.detail = cb;
		for (uint32_t i = 0; i < cb.nsites; i++) {
			const struct cost_site *s = &cb.sites[i];
			uc_hook h;

			if (site_find(c, s->addr))
				continue;
			if (uc_hook_add(c->e->uc, &h, UC_HOOK_CODE, (void *)hook_site, c, s->addr, s->addr) !=
			    UC_ERR_OK)
				continue;
			site_insert(c, &(struct site){ s->addr, s->kind, s->size, s->marker, s->marker_reg });
			added = 1;
		}
	}
	block_insert(c, &nb);
	if (added) {
		/* The block was translated before its hooks existed. */
		c->flush = 1;
		c->flush_lo = addr;
		c->flush_hi = addr + size;
		return NULL;
	}
	return block_find(c, addr, size);
}

/* A block with an instruction that can set IF: an interrupt held off may
 * become deliverable after it; with one that can change the CPL or
 * RFLAGS.AC: look at alignment checking at the next block. */
static void block_flags(struct cpu *c, uint32_t flags)
{
	if (flags & COST_BLOCK_SETS_IF)
		c->if_clear = 0;
	if (flags & COST_BLOCK_AC)
		c->ac_next = 1;
}

/* After a block that may have changed the CPL or RFLAGS.AC: 1 to stop at
 * the block at `addr`, which was translated without the alignment check
 * hook or with it when it is not needed, so that the run loop adds or
 * removes the hook (cpu_run).  Kept out of line: inlined, its register
 * reads gave hook_block a stack frame, and bench_compute ran about 8 %
 * slower. */
static __attribute__((noinline, cold)) int ac_block_check(struct cpu *c, uint64_t addr, uint32_t size)
{
	c->ac_next = 0;
	if (ac_hooked(c) == c->e->ac_on)
		return 0;
	c->e->ac_stale_lo = addr;
	c->e->ac_stale_hi = addr + size;
	return 1;
}

static void hook_block(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
	struct cpu *c = user;
	const struct block *b;

	if (c->cycles >= c->until || c->stop_req || c->apic_remap || *c->mmio_gen != c->mmio_seen ||
	    (c->irq_hint && intr_block_check(c)) ||
	    (c->vmx.nonroot && vmx_block_check(c, addr)) || (c->ac_next && ac_block_check(c, addr, size))) {
		stop_engine(c);
		c->stop_addr = addr;
		return;
	}
	b = block_find(c, addr, size);
	if (!b) {
		b = block_price(c, addr, size);
		if (!b) {
			stop_engine(c);
			c->stop_addr = addr;
			return;
		}
	}
	if (addr == c->cont_addr) {
		/* The rest of c->cur, already charged; only what this block runs
		 * beyond the old one's end is new (a block cut short by a size
		 * limit can be retranslated longer). */
		uint64_t start = c->block_start + c->cont_end_cycles;
		uint32_t rest = c->cur.ninsn - c->cont_index - 1;

		c->cont_addr = 0;
		if (b->flags & (COST_BLOCK_SETS_IF | COST_BLOCK_AC))
			block_flags(c, b->flags);
		if (start + b->cycles > c->cycles)
			c->cycles = start + b->cycles;
		if (b->ninsn > rest)
			c->st.instructions += b->ninsn - rest;
		c->cur = *b;
		c->block_start = start;
		return;
	}
	if (b->flags & (COST_BLOCK_SETS_IF | COST_BLOCK_AC))
		block_flags(c, b->flags);
	c->io_at_valid = 0;
	c->cur = *b;
	c->block_start = c->cycles;
	c->cycles += b->cycles;
	c->st.instructions += b->ninsn;
	c->st.blocks++;
}

/* ---- exceptions and interrupts (SDM Vol. 3 ch. 6) -------------------- */


/* A fault raised while delivering an event. */
struct nested {
	unsigned vec;
	uint32_t err;
	uint64_t cr2;
	int has_cr2;
};

static int read_desc(struct cpu *c, const struct cpu_sysstate *s, uint16_t sel, uint64_t *d,
		     struct nested *nf, uint32_t ext)
{
	uint64_t base = (sel & 4) ? s->ldt.base : s->gdt_base;
	uint32_t limit = (sel & 4) ? s->ldt.limit : s->gdt_limit;
	uint64_t fl;
	uint32_t err;

	if ((sel & ~3u) == 0 || (uint32_t)(sel & ~7u) + 7 > limit) {
		*nf = (struct nested){ VEC_GP, (sel & 0xfffc) | ext };
		return -1;
	}
	if (cpu_lin_access(c, base + (sel & ~7u), d, 8, 0, &err, &fl)) {
		*nf = (struct nested){ VEC_PF, err, fl, 1 };
		return -1;
	}
	return 0;
}

static int push_bytes(struct cpu *c, uint64_t *sp, uint64_t base, uint64_t mask, uint64_t v, unsigned n,
		      struct nested *nf)
{
	uint32_t err;
	uint64_t fl;

	*sp = (*sp - n) & mask;
	if (cpu_lin_access(c, base + *sp, &v, n, 1, &err, &fl)) {
		*nf = (struct nested){ VEC_PF, err | PF_W, fl, 1 };
		return -1;
	}
	return 0;
}

/* A task gate in the IDT, in VMX non-root operation: the checks on the TSS
 * selector it holds (SDM Vol. 2A INT n, TASK-GATE: in the GDT and an
 * available TSS, else #GP; present, else #NP; Vol. 3A 7.2.2: limit, else
 * #TS; error codes with the event's EXT bit), then the task-switch exit
 * instead of the switch (Vol. 3C 26.4.2).  0 once the exit is taken. */
static int deliver_task_gate(struct cpu *c, const struct cpu_sysstate *s, unsigned vec, int kind, int push_err,
			     uint32_t errc, uint64_t rip, uint16_t sel, uint32_t ext, struct nested *nf)
{
	uint64_t d = 0, fl;
	uint32_t err, limit, code = (sel & 0xfffcu) | ext;
	unsigned type;

	if ((sel & 4) || !(sel & ~3u) || (uint32_t)(sel & ~7u) + 7 > s->gdt_limit) {
		*nf = (struct nested){ VEC_GP, code };
		return -1;
	}
	if (cpu_lin_access(c, s->gdt_base + (sel & ~7u), &d, 8, 0, &err, &fl)) {
		*nf = (struct nested){ VEC_PF, err, fl, 1 };
		return -1;
	}
	type = (d >> 40) & 0x1f;	/* S and type: 1 or 9, an available TSS */
	if (type != 1 && type != 9) {
		*nf = (struct nested){ VEC_GP, code };
		return -1;
	}
	if (!((d >> 47) & 1)) {
		*nf = (struct nested){ VEC_NP, code };
		return -1;
	}
	limit = (uint32_t)(d & 0xffff) | (uint32_t)((d >> 32) & 0xf0000);
	if ((d >> 55) & 1)
		limit = limit << 12 | 0xfff;
	if (limit < ((type & 8) ? 0x67u : 0x2bu)) {
		*nf = (struct nested){ VEC_TS, code };
		return -1;
	}
	vmx_task_gate_exit(c, vec, kind, push_err, errc, sel, rip);
	return 0;
}

/* Deliver one event.  `rip` is the return address the handler sees.
 * Returns 0, or -1 with *nf describing a fault raised by the delivery. */
static int deliver(struct cpu *c, unsigned vec, int kind, int push_err, uint32_t errc, uint64_t rip,
		   struct nested *nf)
{
	struct cpu_sysstate s;
	uint64_t rsp = reg(c, UC_X86_REG_RSP), rflags = reg(c, UC_X86_REG_RFLAGS);
	uint32_t ext = kind != EV_SOFT ? 1 : 0;	/* EXT bit of error codes (SDM 6.13) */
	uint32_t idt_err = vec * 8 + 2 + ext;
	uint32_t err;
	uint64_t fl;

	if (cpu_ctx_read(c->e->ctx, &s))
		return cpu_shutdown(c, "host: cannot read CPU state"), 0;
	s.rflags = rflags;

	if (!(s.cr0 & CR0_PE)) {
		/* Real mode: IVT of 4-byte far pointers (SDM Vol. 3 20.1.4). */
		uint16_t ivt[2];
		uint64_t sp = rsp & 0xffff, ssb = s.seg[SEG_SS].base;

		if (vec * 4 + 3 > s.idt_limit) {
			*nf = (struct nested){ VEC_GP, 0 };
			return -1;
		}
		if (cpu_lin_access(c, s.idt_base + vec * 4, ivt, 4, 0, &err, &fl)) {
			*nf = (struct nested){ VEC_GP, 0 };
			return -1;
		}
		if (push_bytes(c, &sp, ssb, 0xffff, rflags & 0xffff, 2, nf) ||
		    push_bytes(c, &sp, ssb, 0xffff, s.seg[SEG_CS].sel, 2, nf) ||
		    push_bytes(c, &sp, ssb, 0xffff, rip & 0xffff, 2, nf))
			return -1;
		rflags &= ~(RFLAGS_IF | RFLAGS_TF | RFLAGS_AC | RFLAGS_RF);
		s.seg[SEG_CS].sel = ivt[1];
		s.seg[SEG_CS].base = (uint64_t)ivt[1] << 4;
		set_reg(c, UC_X86_REG_RSP, (rsp & ~0xffffull) | sp);
		set_reg(c, UC_X86_REG_RFLAGS, rflags);
		s.rflags = rflags;
		if (cpu_ctx_write(c->e->ctx, &s, CPU_TLB_IF_REMAPPED))
			return cpu_shutdown(c, "host: cannot load CPU state"), 0;
		set_reg(c, UC_X86_REG_RIP, ivt[0]);
		return 0;
	}

	int lm = !!(s.efer & EFER_LMA);
	unsigned gsize = lm ? 16 : 8;
	uint64_t g[2] = { 0, 0 };

	if (vec * gsize + gsize - 1 > s.idt_limit) {
		*nf = (struct nested){ VEC_GP, idt_err };
		return -1;
	}
	if (cpu_lin_access(c, s.idt_base + vec * gsize, g, gsize, 0, &err, &fl)) {
		*nf = (struct nested){ VEC_PF, err, fl, 1 };
		return -1;
	}
	unsigned type = (g[0] >> 40) & 0xf, gdpl = (g[0] >> 45) & 3;
	int gate32 = lm || (type & 8);
	int trap = type & 1;
	int task_gate = !lm && type == 5 && c->vmx.nonroot;

	if (!task_gate &&
	    (lm ? (type != 0xe && type != 0xf) : (type != 0xe && type != 0xf && type != 0x6 && type != 0x7))) {
		/* Task gates (type 5) would need task switching, which hvsim does
		 * not model; like any other bad type they raise #GP here, except
		 * in VMX non-root operation, where the switch exits (below). */
		*nf = (struct nested){ VEC_GP, idt_err };
		return -1;
	}
	if (kind == EV_SOFT && gdpl < s.cpl) {
		*nf = (struct nested){ VEC_GP, vec * 8 + 2 };
		return -1;
	}
	if (!((g[0] >> 47) & 1)) {
		*nf = (struct nested){ VEC_NP, idt_err };
		return -1;
	}
	if (task_gate)
		return deliver_task_gate(c, &s, vec, kind, push_err, errc, rip, (uint16_t)(g[0] >> 16), ext, nf);
	uint16_t sel = (uint16_t)(g[0] >> 16);
	uint64_t target = (g[0] & 0xffff) | ((g[0] >> 32) & 0xffff0000ull);
	uint64_t d;
	struct cpu_seg ncs;

	if (lm)
		target |= g[1] << 32;
	else if (!gate32)
		target &= 0xffff;
	if (read_desc(c, &s, sel, &d, nf, ext))
		return -1;
	cpu_seg_from_desc(d, sel, &ncs);
	/* The target must be a present code segment with DPL <= CPL, 64-bit in
	 * long mode (SDM 6.12.1, 6.14.1). */
	if (!(ncs.attr & SEG_ATTR_S) || !(SEG_ATTR_TYPE(ncs.attr) & 8) || SEG_ATTR_DPL(ncs.attr) > s.cpl ||
	    (lm && (!(ncs.attr & SEG_ATTR_L) || (ncs.attr & SEG_ATTR_DB)))) {
		*nf = (struct nested){ VEC_GP, (sel & 0xfffc) | ext };
		return -1;
	}
	if (!(ncs.attr & SEG_ATTR_P)) {
		*nf = (struct nested){ VEC_NP, (sel & 0xfffc) | ext };
		return -1;
	}
	unsigned ncpl = (SEG_ATTR_TYPE(ncs.attr) & 4) ? s.cpl : SEG_ATTR_DPL(ncs.attr);	/* conforming keeps CPL */
	uint64_t old_ss = s.seg[SEG_SS].sel, old_rsp = rsp;
	uint64_t sp = rsp, ssbase = s.seg[SEG_SS].base, spmask;
	unsigned ist = lm ? (g[0] >> 32) & 7 : 0;
	struct cpu_seg nss = s.seg[SEG_SS];

	if (lm) {
		if (ist || ncpl < s.cpl) {
			uint64_t off = ist ? 0x24 + (ist - 1) * 8 : 4 + ncpl * 8;	/* 64-bit TSS (SDM 8.7) */

			if (cpu_lin_access(c, s.tr.base + off, &sp, 8, 0, &err, &fl)) {
				*nf = (struct nested){ VEC_PF, err, fl, 1 };
				return -1;
			}
		}
		if (ncpl < s.cpl)
			nss = (struct cpu_seg){ (uint16_t)ncpl, 0, 0xffffffff, SEG_ATTR_P | SEG_ATTR_S | (ncpl << 13) |
						(3u << 8) | SEG_ATTR_DB | SEG_ATTR_G };
		sp &= ~0xfull;	/* SDM 6.14.2 */
		ssbase = 0;
		spmask = ~0ull;
		if (push_bytes(c, &sp, 0, spmask, old_ss, 8, nf) ||
		    push_bytes(c, &sp, 0, spmask, old_rsp, 8, nf) ||
		    push_bytes(c, &sp, 0, spmask, rflags, 8, nf) ||
		    push_bytes(c, &sp, 0, spmask, s.seg[SEG_CS].sel, 8, nf) ||
		    push_bytes(c, &sp, 0, spmask, rip, 8, nf) ||
		    (push_err && push_bytes(c, &sp, 0, spmask, errc, 8, nf)))
			return -1;
	} else {
		unsigned n = gate32 ? 4 : 2;

		if (rflags & RFLAGS_VM) {
			*nf = (struct nested){ VEC_GP, 0 };	/* virtual-8086 mode is not modelled */
			return -1;
		}
		if (ncpl < s.cpl) {
			/* Inner stack from the 32-bit TSS (SDM 7.2.1): ESPn at 4+8n, SSn at 8+8n. */
			uint32_t esp;
			uint16_t ss;

			if (cpu_lin_access(c, s.tr.base + 4 + ncpl * 8, &esp, 4, 0, &err, &fl) ||
			    cpu_lin_access(c, s.tr.base + 8 + ncpl * 8, &ss, 2, 0, &err, &fl)) {
				*nf = (struct nested){ VEC_PF, err, fl, 1 };
				return -1;
			}
			if (read_desc(c, &s, ss, &d, nf, ext)) {
				nf->vec = VEC_TS;
				return -1;
			}
			cpu_seg_from_desc(d, ss, &nss);
			sp = esp;
			ssbase = nss.base;
		}
		spmask = (nss.attr & SEG_ATTR_DB) ? 0xffffffffull : 0xffffull;
		sp &= spmask;
		if (ncpl < s.cpl &&
		    (push_bytes(c, &sp, ssbase, spmask, old_ss, n, nf) ||
		     push_bytes(c, &sp, ssbase, spmask, old_rsp, n, nf)))
			return -1;
		if (push_bytes(c, &sp, ssbase, spmask, rflags, n, nf) ||
		    push_bytes(c, &sp, ssbase, spmask, s.seg[SEG_CS].sel, n, nf) ||
		    push_bytes(c, &sp, ssbase, spmask, rip, n, nf) ||
		    (push_err && push_bytes(c, &sp, ssbase, spmask, errc, n, nf)))
			return -1;
		sp = (rsp & ~spmask) | sp;
	}
	rflags &= ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM);
	if (!trap)
		rflags &= ~RFLAGS_IF;
	ncs.sel = (sel & ~3u) | ncpl;
	s.seg[SEG_CS] = ncs;
	s.seg[SEG_SS] = nss;
	s.cpl = ncpl;
	s.rflags = rflags;
	set_reg(c, UC_X86_REG_RSP, sp);
	set_reg(c, UC_X86_REG_RFLAGS, rflags);
	/* Delivery changes no CR or EFER, so no translation (SDM Vol. 3A
	 * 4.10.4 lists no invalidation for it); the new CPL selects another
	 * of Unicorn's MMU indexes. */
	if (cpu_ctx_write(c->e->ctx, &s, CPU_TLB_IF_REMAPPED))
		return cpu_shutdown(c, "host: cannot load CPU state"), 0;
	set_reg(c, UC_X86_REG_RIP, target);
	return 0;
}

static int contributory(unsigned v)
{
	return v == VEC_DE || (v >= VEC_TS && v <= VEC_GP);
}

/* Deliver an exception or interrupt with the double-fault rules of
 * SDM Vol. 3 6.15 (Table 6-5) for faults raised during delivery. */
void cpu_raise_event(struct cpu *c, unsigned vec, int kind, uint32_t errc, uint64_t rip)
{
	struct nested nf;
	/* Real mode pushes no error code (SDM Vol. 3A 20.1.4). */
	int push_err = kind == EV_HW && cpu_has_error_code(vec) && (reg(c, UC_X86_REG_CR0) & CR0_PE);

	if (c->debug)
		fprintf(stderr, "hvsim: LP%u: %s %u (error 0x%x) at rip 0x%llx, cycle %llu, rsp 0x%llx\n",
			c->index, kind == EV_SOFT ? "software interrupt" : kind == EV_EXT ? "interrupt" : "exception",
			vec, errc,
			(unsigned long long)rip, (unsigned long long)c->cycles,
			(unsigned long long)reg(c, UC_X86_REG_RSP));
	if (c->debug)
		fprintf(stderr, "hvsim:   rax %llx rbx %llx rcx %llx rdx %llx rsi %llx rdi %llx\n",
			(unsigned long long)reg(c, UC_X86_REG_RAX), (unsigned long long)reg(c, UC_X86_REG_RBX),
			(unsigned long long)reg(c, UC_X86_REG_RCX), (unsigned long long)reg(c, UC_X86_REG_RDX),
			(unsigned long long)reg(c, UC_X86_REG_RSI), (unsigned long long)reg(c, UC_X86_REG_RDI));
	/* Non-root: the exception bitmap decides first (SDM 26.2). */
	if (c->vmx.nonroot && vmx_intercept_exception(c, vec, kind, errc, rip, kind == EV_SOFT ? 1 : 0))
		return;
	c->st.exceptions++;
	c->cycles += c->prof->cost[COST_INT];
	/* A delivered #DB leaves its status bits in DR6 (SDM 17.2.3). */
	if (vec == VEC_DB && kind == EV_HW && c->db_bits) {
		c->dr6 = (c->dr6 & ~0xfull) | c->db_bits;
		set_reg(c, UC_X86_REG_DR6, c->dr6);
		c->db_bits = 0;
	}
	for (int depth = 0;; depth++) {
		if (!deliver(c, vec, kind, push_err, errc, rip, &nf))
			return;
		if (c->vmx.nonroot && c->vmx.p.exit) {
			/* EPT stopped the delivery: exit with the event as
			 * IDT-vectoring information (SDM 28.2.4). */
			vmx_exit_vectoring(c, vec, kind, push_err, errc);
			return;
		}
		if (nf.has_cr2)
			set_cr2(c, nf.cr2);
		if (c->debug)
			fprintf(stderr, "hvsim: LP%u: delivering vector %u raised %u (error 0x%x)\n", c->index, vec,
				nf.vec, nf.err);
		if ((vec == VEC_DF && kind == EV_HW) || depth > 2) {
			if (c->vmx.nonroot) {
				vmx_intercept_triple_fault(c);
				return;
			}
			cpu_shutdown(c, "triple fault: vector %u raised while delivering a double fault", nf.vec);
			return;
		}
		unsigned ovec = vec, okind = kind, opush = push_err;
		uint32_t oerr = errc;

		/* An external interrupt or NMI is benign whatever its vector. */
		if (okind != EV_EXT && ((contributory(vec) && contributory(nf.vec)) ||
					(vec == VEC_PF && (contributory(nf.vec) || nf.vec == VEC_PF)))) {
			vec = VEC_DF;
			errc = 0;
		} else {
			vec = nf.vec;
			errc = nf.err;
		}
		if (c->vmx.nonroot && vmx_intercept_nested(c, ovec, okind, opush, oerr, vec, errc, rip))
			return;
		kind = EV_HW;
		push_err = cpu_has_error_code(vec) && (reg(c, UC_X86_REG_CR0) & CR0_PE);
	}
}

void cpu_raise_fault(struct cpu *c, unsigned vec, uint32_t errc)
{
	cpu_raise_event(c, vec, EV_HW, errc, reg(c, UC_X86_REG_RIP));
}

static void hook_intr(uc_engine *uc, uint32_t intno, void *user)
{
	struct cpu *c = user;

	c->fault_pending = 1;
	c->fault_vec = intno;
	stop_engine(c);
}

/* From inside a code hook: raise `vec` at the current instruction once
 * the engine has stopped (the instruction is not executed). */
static const struct cost_site *cur_site(struct cpu *c, uint64_t addr);

/* An instruction at a site ends its block early (a VM exit, a fault, a
 * SYSCALL): the block was charged whole at its start (hook_block), so
 * take back the instructions after the site, and the site's own unless
 * it completed (`done`). */
void cpu_charge_to_site(struct cpu *c, uint64_t addr, int done)
{
	const struct cost_site *s = cur_site(c, addr);
	uint64_t to;

	if (!s)
		return;
	to = c->block_start + (done ? s->end_cycles : s->prefix_cycles);
	if (to < c->cycles) {
		c->st.instructions -= c->cur.ninsn - s->index - (done ? 1 : 0);
		c->cycles = to;
	}
}

void cpu_raise_from_hook(struct cpu *c, unsigned vec, uint32_t errc)
{
	cpu_charge_to_site(c, reg(c, UC_X86_REG_RIP), 0);
	c->raise_pending = 1;
	c->raise_vec = vec;
	c->raise_err = errc;
	stop_engine(c);
}

/* ---- MSRs, TSC (SDM Vol. 4; Vol. 3 17.17) --------------------------- */

static const struct cost_site *cur_site(struct cpu *c, uint64_t addr)
{
	if (!c->cur.detail)
		return NULL;
	for (uint32_t i = 0; i < c->cur.detail->nsites; i++)
		if (c->cur.detail->sites[i].addr == addr)
			return &c->cur.detail->sites[i];
	return NULL;
}

uint64_t cpu_tsc_now(struct cpu *c, uint64_t site_addr)
{
	uint64_t cyc = c->cycles;

	const struct cost_site *s = cur_site(c, site_addr);

	/* The block was charged whole at its start; the TSC at an instruction
	 * counts only the instructions before it. */
	if (s)
		cyc = c->block_start + s->prefix_cycles;
	cyc += (uint64_t)c->tsc_offset;
	return c->vmx.nonroot ? vmx_guest_tsc(c, cyc) : cyc;
}

/* MSRs whose state Unicorn's CPU keeps (it acts on them). */
int msr_in_engine(uint32_t idx)
{
	switch (idx) {
	case MSR_IA32_SYSENTER_CS:
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
	case MSR_IA32_PAT:
	case MSR_EFER:
	case MSR_STAR:
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_FMASK:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_KERNEL_GS_BASE:
	case MSR_TSC_AUX:
		return 1;
	default:
		return 0;
	}
}

static int msr_needs_canonical(uint32_t idx)
{
	return idx == MSR_LSTAR || idx == MSR_CSTAR || idx == MSR_FS_BASE || idx == MSR_GS_BASE ||
	       idx == MSR_KERNEL_GS_BASE || idx == MSR_IA32_SYSENTER_ESP || idx == MSR_IA32_SYSENTER_EIP;
}

uint64_t cpu_engine_msr(struct cpu *c, uint32_t idx)
{
	uc_x86_msr m = { .rid = idx };

	uc_reg_read(c->e->uc, UC_X86_REG_MSR, &m);
	return m.value;
}

static uint64_t misc_enable(struct cpu *c)
{
	const struct profile_msr *pm = profile_find_msr(c->prof, MSR_IA32_MISC_ENABLE);

	return pm ? c->msr[pm - c->prof->msrs] : 0;
}

/* Returns 0, or -1 for #GP. */
int cpu_msr_read(struct cpu *c, uint32_t idx, uint64_t *v, uint64_t site)
{
	const struct profile_msr *pm = profile_find_msr(c->prof, idx);
	int gp;

	if (intr_msr_read(c, idx, v, &gp))
		return gp ? -1 : 0;

	if (!pm)
		return -1;
	if (idx == MSR_IA32_TSC)
		*v = cpu_tsc_now(c, site);
	else if (msr_in_engine(idx))
		*v = cpu_engine_msr(c, idx);
	else
		*v = c->msr[pm - c->prof->msrs];
	return 0;
}

int cpu_msr_write(struct cpu *c, uint32_t idx, uint64_t v, uint64_t site)
{
	const struct profile_msr *pm = profile_find_msr(c->prof, idx);
	uint64_t cur;
	int gp;

	if (intr_msr_write(c, idx, v, &gp))
		return gp ? -1 : 0;
	if (!pm || (pm->flags & PROFILE_MSR_RO))
		return -1;
	if (cpu_msr_read(c, idx, &cur, site))
		return -1;
	/* A locked IA32_FEATURE_CONTROL refuses every write (SDM Vol. 3C
	 * "Enabling and Entering VMX Operation"). */
	if (idx == 0x3a && (cur & 1))
		return -1;
	if (idx == MSR_IA32_TSC) {
		/* Writing the TSC moves IA32_TSC_ADJUST by the same amount (SDM 17.17.3). */
		const struct profile_msr *adj = profile_find_msr(c->prof, MSR_IA32_TSC_ADJUST);
		int64_t delta = (int64_t)(v - cur);

		c->tsc_offset += delta;
		if (adj)
			c->msr[adj - c->prof->msrs] += (uint64_t)delta;
		return 0;
	}
	if ((v ^ cur) & ~pm->write_mask)
		return -1;
	if (msr_needs_canonical(idx) && (uint64_t)((int64_t)(v << 16) >> 16) != v)
		return -1;
	if (idx == MSR_IA32_TSC_ADJUST) {
		c->tsc_offset += (int64_t)(v - cur);
	} else if (idx == MSR_EFER) {
		/* LME cannot change while paging is on (SDM Vol. 3 10.8.5). */
		if (((v ^ cur) & EFER_LME) && (reg(c, UC_X86_REG_CR0) & CR0_PG))
			return -1;
		/* NXE is reserved while IA32_MISC_ENABLE.XD_DISABLE hides XD. */
		if ((v & EFER_NXE) && (misc_enable(c) & MISC_ENABLE_XD_DISABLE))
			return -1;
	}
	if (msr_in_engine(idx)) {
		uc_x86_msr m = { .rid = idx, .value = v };

		if (idx == MSR_EFER)
			m.value = (v & ~EFER_LMA) | (cur & EFER_LMA);
		uc_reg_write(c->e->uc, UC_X86_REG_MSR, &m);
	} else {
		c->msr[pm - c->prof->msrs] = v;
	}
	return 0;
}

/* Resume after an emulated site instruction: the block the engine starts
 * at the next instruction continues the current one (hook_block). */
void cpu_continue_after_site(struct cpu *c, uint64_t addr, unsigned size)
{
	const struct cost_site *cs = cur_site(c, addr);

	if (cs) {
		c->cont_addr = addr + size;
		c->cont_end_cycles = cs->end_cycles;
		c->cont_index = cs->index;
	}
	/* `addr` is linear; RIP is relative to the CS base (real mode,
	 * segmented protected mode) and, here, still at the instruction. */
	set_reg(c, UC_X86_REG_RIP, reg(c, UC_X86_REG_RIP) + size);
}

/* Is the instruction a site was found at still there?  Sites are keyed by
 * linear address, and code can change under them (self-modifying code,
 * another address space): then the native instruction runs instead. */
static int site_still_there(struct cpu *c, const struct site *s)
{
	uint8_t b[16];
	unsigned n = s->size, op, modrm_reg;

	if (n < (s->kind == SITE_IRET || s->kind == SITE_IO ? 1 : 2) || n > sizeof(b) ||
	    cpu_lin_peek(c, s->addr, b, n, 1))
		return 0;
	switch (s->kind) {
	case SITE_RDTSC:
		return b[n - 2] == 0x0f && b[n - 1] == 0x31;
	case SITE_RDMSR:
		return b[n - 2] == 0x0f && b[n - 1] == 0x32;
	case SITE_WRMSR:
		return b[n - 2] == 0x0f && b[n - 1] == 0x30;
	case SITE_RDTSCP:
		return n >= 3 && b[n - 3] == 0x0f && b[n - 2] == 0x01 && b[n - 1] == 0xf9;
	case SITE_IO:
		/* IN/OUT with an imm8 port end in it; the DX and string
		 * forms end in the opcode. */
		return (b[n - 1] >= 0xec && b[n - 1] <= 0xef) || (b[n - 1] >= 0x6c && b[n - 1] <= 0x6f) ||
		       (n >= 2 && b[n - 2] >= 0xe4 && b[n - 2] <= 0xe7);
	case SITE_CPUID:
		return b[n - 2] == 0x0f && b[n - 1] == 0xa2;
	case SITE_SYSCALL:
		return b[n - 2] == 0x0f && b[n - 1] == 0x05;
	case SITE_MARKER:	/* ... 0F 1F, ModRM, disp32 "HV" IIII */
		return n >= 7 && b[n - 1] == (HV_MARKER_MAGIC >> 8) && b[n - 2] == (HV_MARKER_MAGIC & 0xff) &&
		       b[n - 3] == (uint8_t)(s->marker >> 8) && b[n - 4] == (uint8_t)s->marker;
	case SITE_PAUSE:
		return b[n - 2] == 0xf3 && b[n - 1] == 0x90;
	case SITE_IRET:
		return b[n - 1] == 0xcf;
	case SITE_MOV_SS:	/* 17, or 8E with ModRM.reg 2 */
		return b[n - 1] == 0x17 || (n >= 2 && b[n - 2] == 0x8e && ((b[n - 1] >> 3) & 7) == 2) ||
		       (n >= 3 && b[n - 3] == 0x8e && ((b[n - 2] >> 3) & 7) == 2);
	case SITE_CALL_FAR:	/* 9A ptr or FF /3 m, after any prefixes */
	case SITE_JMP_FAR:	/* EA ptr or FF /5 m */
		for (unsigned i = 0; i + 1 < n; i++) {
			if (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf0 || b[i] == 0xf2 || b[i] == 0xf3 ||
			    b[i] == 0x26 || b[i] == 0x2e || b[i] == 0x36 || b[i] == 0x3e || b[i] == 0x64 ||
			    b[i] == 0x65 || (b[i] & 0xf0) == 0x40)
				continue;
			if (b[i] == (s->kind == SITE_CALL_FAR ? 0x9a : 0xea))
				return 1;
			return b[i] == 0xff && (b[i + 1] >> 6) != 3 &&
			       ((b[i + 1] >> 3) & 7) == (s->kind == SITE_CALL_FAR ? 3u : 5u);
		}
		return 0;
	default:
		break;
	}
	/* Two-byte opcodes: 0F, the opcode, a ModRM byte, after any
	 * prefixes (none of which is 0F). */
	for (unsigned i = 0; i + 1 < n; i++) {
		if (b[i] != 0x0f)
			continue;
		op = b[i + 1];
		modrm_reg = i + 2 < n ? (b[i + 2] >> 3) & 7 : 8;
		switch (s->kind) {
		case SITE_INVD:		/* 0F 08 */
			return op == 0x08;
		case SITE_XSETBV:	/* 0F 01 D1 */
			return op == 0x01 && i + 2 < n && b[i + 2] == 0xd1;
		case SITE_INVLPG:	/* 0F 01 /7, memory operand */
			return op == 0x01 && modrm_reg == 7 && (b[i + 2] >> 6) != 3;
		case SITE_MOV_CR:
			return op == 0x20 || op == 0x22;
		case SITE_MOV_DR:
			return op == 0x21 || op == 0x23;
		case SITE_CLTS:
			return op == 0x06;
		case SITE_LMSW:		/* 0F 01 /6 */
			return op == 0x01 && modrm_reg == 6;
		case SITE_SMSW:		/* 0F 01 /4 */
			return op == 0x01 && modrm_reg == 4;
		default:
			return 0;
		}
	}
	return 0;
}

/* ---- Debug registers ----
 *
 * Unicorn turns DR7's breakpoint enables into QEMU CPU breakpoints, and a
 * guest that enabled one (kvm-unit-tests' vmx "debug controls" writes DR7
 * = 0x402 with DR0 = 0) crashed the host inside generated code.  hvsim
 * does not model debug breakpoints: the model keeps the architectural DR7
 * for MOV from DR7 and VMX's guest DR7, and hands Unicorn DR7 without
 * L0-3/G0-3, so no breakpoint ever fires (docs/platform.md). */
void cpu_set_dr7(struct engine *e, uint64_t v)
{
	uint64_t u = v & ~0xffull;

	e->dr7 = v;
	uc_reg_write(e->uc, UC_X86_REG_DR7, &u);
}

/* MOV to/from a control or debug register (0F 20-23 /r, SDM Vol. 2B
 * MOV): `base` is 0x20 (CR) or 0x21 (DR).  Returns 0 with the register
 * number (ModRM.reg, REX.R adding 8), the GPR as Unicorn names it and the
 * direction, or -1 if the bytes are not such an instruction. */
struct mov_xr {
	unsigned n;
	int ucr, write, bits64;
};

static int decode_mov_xr(struct cpu *c, uint64_t addr, unsigned size, unsigned base, struct mov_xr *m)
{
	static const int gprs[16] = { UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
				      UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
				      UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
				      UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15 };
	uint8_t b[16];
	unsigned i = 0, rex = 0;

	if (size > sizeof(b) || cpu_lin_peek(c, addr, b, size, 1))
		return -1;
	m->bits64 = cpu_ctx_code_bits(c->e->ctx) == 64;
	while (i < size && (b[i] == 0x66 || b[i] == 0xf0 || b[i] == 0xf2 || b[i] == 0xf3))
		i++;
	if (i < size && (b[i] & 0xf0) == 0x40 && m->bits64)
		rex = b[i++];
	if (i + 2 >= size || b[i] != 0x0f || (b[i + 1] != base && b[i + 1] != base + 2))
		return -1;
	m->write = b[i + 1] == base + 2;
	m->n = ((b[i + 2] >> 3) & 7) | (rex & 4 ? 8 : 0);
	m->ucr = gprs[(b[i + 2] & 7) | (rex & 1 ? 8 : 0)];
	return 0;
}

/* MOV to or from DR6 and DR7 (or DR4/DR5 aliasing them while CR4.DE = 0,
 * SDM Vol. 3 17.2.2); DR0-DR3 run natively.  Returns 1 if done here. */
static int mov_dr_site(struct cpu *c, uint64_t addr, unsigned size)
{
	struct mov_xr m;
	uint64_t v;

	if (decode_mov_xr(c, addr, size, 0x21, &m) || m.n > 7 || cpu_cpl(c))
		return 0;	/* #UD (DR8-15) or #GP: Unicorn raises it */
	if ((m.n == 4 || m.n == 5) && !(reg(c, UC_X86_REG_CR4) & CR4_DE))
		m.n += 2;	/* DR4/DR5 alias DR6/DR7 (SDM 17.2.2) */
	if (m.n == 6) {
		/* DR6 is the model's: Unicorn's own #DB handling rewrites
		 * B0-B3, which software must not see change. */
		if (!m.write) {
			set_reg(c, m.ucr, m.bits64 ? c->dr6 : (uint32_t)c->dr6);
		} else {
			v = reg(c, m.ucr);
			if (!m.bits64)
				v = (uint32_t)v;
			if (v >> 32) {
				cpu_raise_from_hook(c, VEC_GP, 0);
				return 1;
			}
			c->dr6 = (v & 0xe00full) | DR6_FIXED1;
			set_reg(c, UC_X86_REG_DR6, c->dr6);
		}
		cpu_continue_after_site(c, addr, size);
		return 1;
	}
	if (m.n != 7)
		return 0;
	if (!m.write) {
		set_reg(c, m.ucr, m.bits64 ? c->e->dr7 : (uint32_t)c->e->dr7);
	} else {
		v = reg(c, m.ucr);
		if (!m.bits64)
			v = (uint32_t)v;
		if (v >> 32) {
			cpu_raise_from_hook(c, VEC_GP, 0);	/* SDM Vol. 2B MOV DR */
			return 1;
		}
		/* Bit 10 reads 1, bits 11, 12, 14 and 15 read 0 (SDM 17.2.4). */
		cpu_set_dr7(c->e, (v | 0x400) & ~0xd800ull);
	}
	cpu_continue_after_site(c, addr, size);
	return 1;
}

/* MOV CR outside VMX non-root handling: CR8 is the LAPIC's TPR, and a
 * write of a reserved bit, which Unicorn would take, raises #GP (SDM Vol.
 * 3 2.5, Vol. 2B MOV CR): CR0 bits 63:32, PG without PE, NW without CD;
 * CR4 bits of features the CPU lacks; CR3 bits above MAXPHYADDR in
 * IA-32e mode.  Returns 1 if the instruction was carried out here. */
static int mov_cr_site(struct cpu *c, uint64_t addr, unsigned size)
{
	struct mov_xr m;
	uint64_t v;

	if (decode_mov_xr(c, addr, size, 0x20, &m) || cpu_cpl(c))
		return 0;	/* not one, or #GP: Unicorn raises it */
	if (m.n == 8)
		return intr_cr8(c, m.write, m.ucr, addr, size);
	if (!m.write)
		return 0;
	if (m.n == 3 && c->vmx.nonroot) {
		vmx_tlb_model_flush(c->e);	/* the guest drops its translations */
		c->vmx.pdpte_cr3 = ~0ull;	/* and PAE paging reloads its PDPTEs (SDM 4.4.1) */
	}
	v = reg(c, m.ucr);
	if (!m.bits64)
		v = (uint32_t)v;
	if ((m.n == 0 && ((v >> 32) || ((v & CR0_PG) && !(v & CR0_PE)) || ((v & CR0_NW) && !(v & CR0_CD)))) ||
	    (m.n == 4 && (v & ~c->cr4_valid)) ||
	    /* Activating IA-32e mode without CR4.PAE, and clearing CR4.PAE
	     * in it (SDM Vol. 3A 10.8.5; Vol. 2B MOV CR): Unicorn would drop
	     * the CR0 write or take the CR4 one. */
	    (m.n == 0 && (v & CR0_PG) && !(reg(c, UC_X86_REG_CR0) & CR0_PG) &&
	     (cpu_engine_msr(c, MSR_EFER) & EFER_LME) && !(reg(c, UC_X86_REG_CR4) & CR4_PAE)) ||
	    (m.n == 4 && !(v & CR4_PAE) && (cpu_engine_msr(c, MSR_EFER) & EFER_LMA)) ||
	    (m.n == 3 && (cpu_engine_msr(c, MSR_EFER) & EFER_LMA) && (v & ~(1ull << 63)) >> c->maxphyaddr)) {
		cpu_raise_from_hook(c, VEC_GP, 0);
		return 1;
	}
	return 0;
}

/* ---- alignment checking (SDM Vol. 3A 2.5 CR0.AM, 6.15 #AC) ------------
 *
 * Unicorn checks no alignment.  While the CPL is 3 and RFLAGS.AC is set
 * the engine runs with a code hook on every instruction; when CR0.AM is
 * set too, the hook asks align.c whether the instruction is about to make
 * a misaligned data access and if so raises #AC(0) in its place: a fault,
 * RIP at the instruction, none of its effects (SDM 6.15 "Saved
 * Instruction Pointer", "Program State Change"), delivered like any
 * exception (the exception bitmap first in VMX non-root operation).  Code
 * running otherwise has no hook and costs what it did before.
 *
 * A hook added later does not reach code translated before it.  Unicorn
 * looks translations up by CPL and RFLAGS.AC (QEMU's TB flags), not by
 * CR0.AM, so the hook follows CPL and AC alone: then every translation
 * made at CPL 3 with AC set carries it, except the block that starts
 * first after they became so, at which the engine stops and which is
 * dropped before it runs (flushing every translation instead costs
 * Unicorn 2.1.1 about 0.2 s: it clears its whole code buffer).  Removing
 * the hook drops the translations it instrumented.  CPL and AC are looked
 * at each time the engine starts and after each block with an
 * instruction that can change them inside the engine (COST_BLOCK_AC);
 * what else changes the CPL (exceptions, interrupts, SYSCALL, VM entries
 * and exits) goes through the run loop. */

/* Read where RFLAGS is exact: the engine stopped, a block boundary, or a
 * code hook (Unicorn brings the lazy flags up to date before one). */
static int ac_hooked(struct cpu *c)
{
	return (reg(c, UC_X86_REG_RFLAGS) & RFLAGS_AC) && cpu_cpl(c) == 3;
}

static void hook_ac(uc_engine *uc, uint64_t addr, uint32_t size, void *user);

/* With the engine stopped: drop the block that ran first at a change of
 * CPL or AC, translated without the hook, and add or remove the hook. */
static int ac_update(struct cpu *c)
{
	struct engine *e = c->e;
	int on = ac_hooked(c), was = e->ac_on, r = 0;

	if (on && !c->align && !(c->align = align_new()))
		return -ENOMEM;
	/* Dropping translations makes Unicorn translate their addresses: in
	 * a non-root engine through the model's TLB fill, which must neither
	 * price nor keep what it finds (then the guest's next access misses
	 * and is priced as it would have been). */
	c->vmx.host_fill = 1;
	if (e->ac_stale_hi) {
		uc_ctl_remove_cache(e->uc, e->ac_stale_lo, e->ac_stale_hi);
		e->ac_stale_hi = 0;
	}
	if (on != e->ac_on) {
		if (on)
			r = uc_hook_add(e->uc, &e->ac_hook, UC_HOOK_CODE, (void *)hook_ac, c, 1, 0) != UC_ERR_OK;
		else
			r = uc_hook_del(e->uc, e->ac_hook) != UC_ERR_OK;	/* drops what it instrumented */
		if (!r)
			e->ac_on = on;
	}
	c->vmx.host_fill = 0;
	if (c->vmx.nonroot)
		uc_ctl_flush_tlb(e->uc);
	if (r)
		return -EIO;
	if (c->debug && on != was)
		fprintf(stderr, "hvsim: LP%u: alignment check hook %s at rip 0x%llx\n", c->index, on ? "on" : "off",
			(unsigned long long)reg(c, UC_X86_REG_RIP));
	return 0;
}

static uint64_t ac_reg(void *opaque, unsigned cs_reg)
{
	struct cpu *c = opaque;
	int ucr;

	return cpu_cs_gpr(cs_reg, &ucr) >= 0 ? reg(c, ucr) : 0;
}

static uint64_t ac_seg_base(void *opaque, unsigned cs_reg)
{
	struct cpu *c = opaque;
	struct cpu_sysstate s;

	if (cpu_ctx_read(c->e->ctx, &s))
		return 0;
	switch (cs_reg) {
	case X86_REG_ES:
		return s.seg[SEG_ES].base;
	case X86_REG_CS:
		return s.seg[SEG_CS].base;
	case X86_REG_SS:
		return s.seg[SEG_SS].base;
	case X86_REG_FS:
		return s.seg[SEG_FS].base;
	case X86_REG_GS:
		return s.seg[SEG_GS].base;
	default:
		return s.seg[SEG_DS].base;
	}
}

/* Instruction bytes for the model's own use, at no simulated cost. */
static int ac_fetch(struct cpu *c, uint64_t lin, void *buf, size_t n)
{
	return cpu_lin_peek(c, lin, buf, n, 1);
}

/* The block was charged whole when it started (hook_block): take back
 * the instruction at linear `addr` and those after it, which do not run.
 * Sites have their prices at hand (cpu_charge_to_site); anything else
 * has the part of the block before it priced again. */
static void charge_before(struct cpu *c, uint64_t addr)
{
	uint8_t code[4096];
	struct cost_block cb;
	uint64_t to, len = addr - c->cur.addr;

	if (addr < c->cur.addr || len >= c->cur.size || len > sizeof(code) || cur_site(c, addr) ||
	    (len && ac_fetch(c, c->cur.addr, code, len)) ||
	    cost_price_block(c->cm, code, len, c->cur.addr, cpu_ctx_code_bits(c->e->ctx), 0, &cb))
		return;
	to = c->block_start + cb.cycles;
	if (to < c->cycles && cb.ninsn < c->cur.ninsn) {
		c->st.instructions -= c->cur.ninsn - cb.ninsn;
		c->cycles = to;
	}
}

/* From a code hook before the instruction at linear `addr`: raise #AC(0)
 * if it is about to make a misaligned access.  Returns 1 if it did. */
static int ac_check_insn(struct cpu *c, uint64_t addr, unsigned size)
{
	struct align_env env = { .reg = ac_reg, .seg_base = ac_seg_base, .opaque = c };
	struct align_fault f;
	uint8_t b[16];

	if (!size || size > sizeof(b) || !(reg(c, UC_X86_REG_CR0) & CR0_AM) || !ac_hooked(c) ||
	    ac_fetch(c, addr, b, size))
		return 0;
	env.bits = cpu_ctx_code_bits(c->e->ctx);
	env.rip = reg(c, UC_X86_REG_RIP);
	env.cr0 = reg(c, UC_X86_REG_CR0);
	if (align_check(c->align, b, size, &env, &f) != 1)
		return 0;
	if (c->debug)
		fprintf(stderr, "hvsim: LP%u: #AC: access at 0x%llx not on a %u-byte boundary\n", c->index,
			(unsigned long long)f.lin, f.align);
	charge_before(c, addr);
	cpu_raise_from_hook(c, VEC_AC, 0);
	return 1;
}

static void hook_ac(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
	struct cpu *c = user;
	const struct site *s;

	if (c->stopping)
		return;
	/* At a site, hook_site checks, after any VM exit that comes first. */
	s = site_find(c, addr);
	if (s && site_still_there(c, s))
		return;
	ac_check_insn(c, addr, size);
}

/* XSETBV (SDM Vol. 2C XSETBV): #UD without CR4.OSXSAVE and #GP at CPL
 * > 0 are Unicorn's; #GP(0) for an XCR other than 0, or a value that
 * clears x87, sets a component this CPU lacks (CPUID 0DH.0; Unicorn's
 * model would take AVX, which it cannot execute) or AVX without SSE, is
 * the model's.  Otherwise the instruction runs natively and the value is
 * the LP's. */
static void xsetbv_site(struct cpu *c)
{
	uint64_t v = (uint32_t)reg(c, UC_X86_REG_RAX) | reg(c, UC_X86_REG_RDX) << 32;

	if (!(reg(c, UC_X86_REG_CR4) & CR4_OSXSAVE) || cpu_cpl(c))
		return;
	if ((uint32_t)reg(c, UC_X86_REG_RCX) != 0 || !(v & XCR0_X87) || (v & ~c->xcr0_valid) ||
	    ((v & XCR0_AVX) && !(v & XCR0_SSE))) {
		cpu_raise_from_hook(c, VEC_GP, 0);
		return;
	}
	c->xcr0 = v;
	c->e->xcr0 = v;
}

static void hook_site(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
	struct cpu *c = user;
	const struct site *s = site_find(c, addr);
	uint64_t v;
	uint32_t idx;

	if (!s || !site_still_there(c, s))
		return;
	if (c->vmx.nonroot && vmx_intercept_site(c, s->kind, addr, s->size)) {
		/* A fault-like exit replaces the instruction; after a
		 * trap-like one it has completed. */
		if (c->vmx.p.exit)
			cpu_charge_to_site(c, addr, c->vmx.p.trap);
		return;
	}
	if (c->e->ac_on && ac_check_insn(c, addr, s->size))
		return;
	switch (s->kind) {
	case SITE_RDTSC:
	case SITE_RDTSCP:
		/* CR4.TSD restricts the TSC to CPL 0 (SDM Vol. 2B RDTSC). */
		if ((reg(c, UC_X86_REG_CR4) & CR4_TSD) && cpu_cpl(c)) {
			cpu_raise_from_hook(c, VEC_GP, 0);
			return;
		}
		v = cpu_tsc_now(c, addr);
		set_reg(c, UC_X86_REG_RAX, (uint32_t)v);
		set_reg(c, UC_X86_REG_RDX, v >> 32);
		if (s->kind == SITE_RDTSCP)
			set_reg(c, UC_X86_REG_RCX, (uint32_t)cpu_engine_msr(c, MSR_TSC_AUX));
		break;
	case SITE_RDMSR:
	case SITE_WRMSR:
		c->st.msr_accesses++;
		idx = (uint32_t)reg(c, UC_X86_REG_RCX);
		if (cpu_cpl(c)) {
			cpu_raise_from_hook(c, VEC_GP, 0);
			return;
		}
		if (s->kind == SITE_RDMSR) {
			if (cpu_msr_read(c, idx, &v, addr)) {
				cpu_raise_from_hook(c, VEC_GP, 0);
				return;
			}
			set_reg(c, UC_X86_REG_RAX, (uint32_t)v);
			set_reg(c, UC_X86_REG_RDX, v >> 32);
		} else {
			v = (uint32_t)reg(c, UC_X86_REG_RAX) | (reg(c, UC_X86_REG_RDX) << 32);
			if (cpu_msr_write(c, idx, v, addr)) {
				cpu_raise_from_hook(c, VEC_GP, 0);
				return;
			}
		}
		break;
	case SITE_INVLPG:
		/* Privileged (SDM Vol. 2A INVLPG).  Unicorn's own INVLPG drops a
		 * large page's data translations but leaves its look-up cache
		 * of code blocks pointing at code from the other 4-KiB pages of
		 * it, so the run loop flushes the whole TLB instead (outside
		 * the engine: not while a block of it executes). */
		if (cpu_cpl(c)) {
			cpu_raise_from_hook(c, VEC_GP, 0);
			return;
		}
		c->invlpg_pending = 1;
		c->invlpg_addr = addr;
		c->invlpg_size = s->size;
		stop_engine(c);
		return;
	case SITE_MARKER: {
		const struct cost_site *cs = cur_site(c, addr);
		int ucr;

		if (cpu_cs_gpr(s->marker_reg, &ucr) >= 0)
			marks_marker(c, s->marker, reg(c, ucr), cs ? c->block_start + cs->prefix_cycles : c->cycles);
		return;		/* the NOP runs, at no cost */
	}
	case SITE_SYSCALL:
		cpu_charge_to_site(c, addr, 1);
		c->syscall_pending = 1;
		c->syscall_rip = addr;
		stop_engine(c);
		return;
	case SITE_IRET:
		/* IRET ends NMI blocking (SDM Vol. 3 6.7.1); non-root
		 * operation tracks its own (vmx.c). */
		if (!c->vmx.nonroot && c->nmi_blocked) {
			c->nmi_blocked = 0;
			c->irq_hint = 1;
		}
		return;
	case SITE_IO: {
		/* The block was charged whole at its start; the port access
		 * acts at this instruction's time, the time RDTSC would read
		 * here (hook_in, hook_out). */
		const struct cost_site *cs = cur_site(c, addr);

		c->io_at = cs ? c->block_start + cs->prefix_cycles : c->cycles;
		c->io_at_valid = 1;
		return;
	}
	case SITE_MOV_SS:
		/* Unicorn keeps one flag for blocking by STI and by MOV SS;
		 * the model remembers which instruction a MOV SS shadow
		 * covers (VM entry error 26, the interruptibility state). */
		c->movss_next = addr + s->size;
		return;
	case SITE_CPUID:
	case SITE_PAUSE:
	case SITE_CALL_FAR:
	case SITE_JMP_FAR:
	case SITE_INVD:
		return;		/* native but in non-root operation (above) */
	case SITE_XSETBV:
		xsetbv_site(c);
		return;
	default:
		/* MOV CR/DR, CLTS, LMSW, SMSW: native outside VMX operation,
		 * except CR8, which is the LAPIC's TPR. */
		if (c->vmx.on && vmx_cr_site(c, s->kind, addr, s->size)) {
			if (c->vmx.p.exit)
				cpu_charge_to_site(c, addr, c->vmx.p.trap);
			return;
		}
		if (s->kind == SITE_MOV_CR)
			mov_cr_site(c, addr, s->size);
		else if (s->kind == SITE_MOV_DR)
			mov_dr_site(c, addr, s->size);
		return;
	}
	/* Writing RIP makes Unicorn skip the native instruction and continue
	 * in a new block at the next one. */
	cpu_continue_after_site(c, addr, s->size);
}

/* ---- CPUID, port I/O, memory holes ----------------------------------- */

static int hook_cpuid(uc_engine *uc, void *user)
{
	struct cpu *c = user;
	uint32_t leaf = (uint32_t)reg(c, UC_X86_REG_RAX), sub = (uint32_t)reg(c, UC_X86_REG_RCX);
	uint32_t r[4];

	/* CPUID exits unconditionally in non-root operation (SDM 26.1.2). */
	if (c->vmx.nonroot)
		return vmx_intercept_cpuid(c);
	/* IA32_MISC_ENABLE.LIMIT_CPUID: leaf 0 reports at most 2, and a
	 * higher basic leaf answers as leaf 2 (SDM Vol. 4, MSR 1A0H). */
	if ((misc_enable(c) & MISC_ENABLE_LIMIT_CPUID) && leaf > 2 && leaf < 0x80000000)
		leaf = 2;
	profile_cpuid(c->prof, leaf, sub, r);
	if (leaf == 0 && (misc_enable(c) & MISC_ENABLE_LIMIT_CPUID) && r[0] > 2)
		r[0] = 2;
	if (leaf == 0x80000001 && (misc_enable(c) & MISC_ENABLE_XD_DISABLE))
		r[3] &= ~(1u << 20);	/* XD */
	if (leaf == 1) {
		/* Initial APIC id and logical processor count (SDM Vol. 2A CPUID). */
		r[1] = (r[1] & 0x0000ffff) | (c->index << 24) | ((c->nlps & 0xff) << 16);
		/* CPUID.1:EDX.APIC follows IA32_APIC_BASE's global enable
		 * (SDM Vol. 3 10.4.3). */
		if (c->lapic && !(lapic_base_msr(c->lapic) & APIC_BASE_EN))
			r[3] &= ~(1u << 9);
		/* OSXSAVE mirrors CR4.OSXSAVE. */
		r[2] &= ~(1u << 27);
		if ((r[2] & (1u << 26)) && (reg(c, UC_X86_REG_CR4) & (1ull << 18)))
			r[2] |= 1u << 27;
	} else if (leaf == 0xb) {
		/* x2APIC topology (SDM Vol. 2A CPUID leaf 0BH): one thread
		 * per core, the LPs the cores of one package. */
		unsigned shift = 0;

		while ((1u << shift) < c->nlps)
			shift++;
		r[0] = sub == 0 ? 0 : sub == 1 ? shift : 0;
		r[1] = sub == 0 ? 1 : sub == 1 ? c->nlps : 0;
		r[2] = (sub & 0xff) | (sub == 0 ? 1u << 8 : sub == 1 ? 2u << 8 : 0);
		r[3] = c->index;
	}
	set_reg(c, UC_X86_REG_RAX, r[0]);
	set_reg(c, UC_X86_REG_RBX, r[1]);
	set_reg(c, UC_X86_REG_RCX, r[2]);
	set_reg(c, UC_X86_REG_RDX, r[3]);
	return 1;
}

/* SYSCALL reached outside a priced block's sites: Unicorn runs the
 * UC_X86_INS_SYSCALL hooks in place of the instruction.  The CPU does
 * the transition once the engine has stopped (syscall_complete). */
static void hook_syscall(uc_engine *uc, void *user)
{
	struct cpu *c = user;

	if (c->syscall_pending)
		return;		/* the site saw it first */
	c->syscall_pending = 1;
	c->syscall_rip = reg(c, UC_X86_REG_RIP);
	stop_engine(c);
}

/* SDM Vol. 2B SYSCALL, 64-bit mode: #UD unless EFER.SCE and 64-bit code;
 * RCX = next RIP, R11 = RFLAGS, RFLAGS &= ~IA32_FMASK (RF cleared), CS
 * and SS the flat ring-0 segments STAR[47:32] names, RIP = IA32_LSTAR. */
static void syscall_complete(struct cpu *c)
{
	struct cpu_sysstate s;
	uint64_t rflags = reg(c, UC_X86_REG_RFLAGS);
	uint16_t sel = (uint16_t)(cpu_engine_msr(c, MSR_STAR) >> 32);

	c->syscall_pending = 0;
	if (cpu_ctx_read(c->e->ctx, &s)) {
		cpu_shutdown(c, "host: cannot read CPU state");
		return;
	}
	set_reg(c, UC_X86_REG_RIP, c->syscall_rip);
	if (!(s.efer & EFER_SCE) || !(s.efer & EFER_LMA) || !(s.seg[SEG_CS].attr & SEG_ATTR_L)) {
		cpu_raise_fault(c, VEC_UD, 0);
		return;
	}
	set_reg(c, UC_X86_REG_RCX, c->syscall_rip + 2);	/* 0F 05 */
	set_reg(c, UC_X86_REG_R11, rflags & ~RFLAGS_RF);
	rflags &= ~(cpu_engine_msr(c, MSR_FMASK) | RFLAGS_RF);
	s.seg[SEG_CS] = (struct cpu_seg){ sel & 0xfffc, 0, 0xffffffff,
					  (0xbu << 8) | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_L | SEG_ATTR_G };
	s.seg[SEG_SS] = (struct cpu_seg){ (sel + 8) & 0xfffc, 0, 0xffffffff,
					  (0x3u << 8) | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_DB | SEG_ATTR_G };
	s.cpl = 0;
	s.rflags = rflags;
	set_reg(c, UC_X86_REG_RFLAGS, rflags);
	if (cpu_ctx_write(c->e->ctx, &s, CPU_TLB_IF_REMAPPED)) {
		cpu_shutdown(c, "host: cannot load CPU state");
		return;
	}
	set_reg(c, UC_X86_REG_RIP, cpu_engine_msr(c, MSR_LSTAR));
}

/* A device sees the simulated time of the IN/OUT itself, not of the end
 * of its block (which hook_block charged in advance): the LP's clock is
 * wound back to the instruction for the access and forward again after
 * it.  Returns the cycles to restore. */
static uint64_t io_time_enter(struct cpu *c)
{
	uint64_t end = c->cycles;

	if (c->io_at_valid && c->io_at < end)
		c->cycles = c->io_at;
	return end;
}

static void io_time_leave(struct cpu *c, uint64_t end)
{
	if (c->cycles < end)
		c->cycles = end;
}

static uint32_t hook_in(uc_engine *uc, uint32_t port, int size, void *user)
{
	struct cpu *c = user;
	uint64_t end;
	uint32_t v;

	if (c->vmx.nonroot && vmx_intercept_io(c, 1, (uint16_t)port, (unsigned)size))
		return 0;
	c->st.io_accesses++;
	end = io_time_enter(c);
	v = (uint32_t)memmap_port_in(c->mem, (uint16_t)port, (unsigned)size);
	io_time_leave(c, end);
	return v;
}

static void hook_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *user)
{
	struct cpu *c = user;
	uint64_t end;

	if (c->vmx.nonroot && vmx_intercept_io(c, 0, (uint16_t)port, (unsigned)size))
		return;
	c->st.io_accesses++;
	end = io_time_enter(c);
	memmap_port_out(c->mem, (uint16_t)port, value, (unsigned)size);
	io_time_leave(c, end);
	/* A PCI BAR moved: the next access may be to its new place. */
	if (c->stop_req || *c->mmio_gen != c->mmio_seen)
		stop_engine(c);
}

static uint64_t mmio_read(uc_engine *uc, uint64_t off, unsigned size, void *opaque)
{
	const struct memmap_region *r = opaque;

	return r->read(r->opaque, off, size);
}

static void mmio_write(uc_engine *uc, uint64_t off, unsigned size, uint64_t value, void *opaque)
{
	const struct memmap_region *r = opaque;

	r->write(r->opaque, off, value, size);
}

static uint64_t open_bus_read(uc_engine *uc, uint64_t off, unsigned size, void *opaque)
{
	return ~0ull;
}

static void open_bus_write(uc_engine *uc, uint64_t off, unsigned size, uint64_t value, void *opaque)
{
}

/* Physical addresses with nothing behind them read as all ones and ignore
 * writes, as on a PC: map an open-bus page on first touch. */
static bool hook_unmapped(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value,
			  void *user)
{
	struct cpu *c = user;
	uint64_t page = addr & ~0xfffull;

	if (c->e->open_bus_pages >= MAX_OPEN_BUS_PAGES) {
		cpu_shutdown(c, "guest touched more than %d pages with nothing behind them (last 0x%llx)",
			    MAX_OPEN_BUS_PAGES, (unsigned long long)addr);
		return false;
	}
	if (uc_mmio_map(uc, page, 0x1000, open_bus_read, c, open_bus_write, c) != UC_ERR_OK)
		return false;
	c->e->open_bus_pages++;
	return true;
}

static bool hook_invalid(uc_engine *uc, void *user)
{
	return false;	/* handled by the run loop with a precise RIP */
}

/* Bring one engine's MMIO mappings in line with the memory map: regions
 * that moved or switched off (PCI BARs, memmap_move_mmio) are unmapped
 * from their old place and mapped at the new one, where open-bus pages
 * mapped on an earlier touch give way.  A window that would cover the
 * LAPIC page, or that Unicorn refuses, is left unmapped (open bus). */
static void mmio_sync_engine(struct cpu *c, struct engine *e)
{
	if (!e->uc)
		return;
	for (size_t i = 0; i < e->nmmio; i++) {
		const struct memmap_region *r = memmap_mmio_at(c->mem, i);
		uint64_t base = r->base & ~0xfffull, end = (r->base + r->size + 0xfff) & ~0xfffull;
		uint64_t want = r->absent ? ~0ull : base;

		if (e->mmio_at[i] == want)
			continue;
		if (e->mmio_at[i] != ~0ull)
			uc_mem_unmap(e->uc, e->mmio_at[i], end - base);
		e->mmio_at[i] = ~0ull;
		if (want == ~0ull)
			continue;
		if (c->apic_page != ~0ull && c->apic_page < end && base < c->apic_page + 0x1000) {
			diag_error("LP%u: %s at 0x%llx covers the local APIC page; left unmapped", c->index,
				   r->name ? r->name : "an MMIO window", (unsigned long long)base);
			continue;
		}
		for (uint64_t p = base; p < end; p += 0x1000)
			if (uc_mem_unmap(e->uc, p, 0x1000) == UC_ERR_OK && e->open_bus_pages)
				e->open_bus_pages--;
		if (uc_mmio_map(e->uc, base, end - base, mmio_read, (void *)r, mmio_write, (void *)r) != UC_ERR_OK) {
			diag_error("LP%u: cannot map %s at 0x%llx; it reads as open bus", c->index,
				   r->name ? r->name : "an MMIO window", (unsigned long long)base);
			continue;
		}
		e->mmio_at[i] = base;
	}
}

/* Run loop, with the engine stopped: the memory map's MMIO changed. */
static void cpu_mmio_sync(struct cpu *c)
{
	c->mmio_seen = *c->mmio_gen;
	mmio_sync_engine(c, &c->root);
	mmio_sync_engine(c, &c->guest);
	for (unsigned i = 0; i < VMX_GUEST_ENGINES; i++)
		mmio_sync_engine(c, &c->vmx.guests[i]);
}

/* ---- life cycle ------------------------------------------------------ */

/* Open one engine on the LP's memory map with the CPU model's hooks.
 * `guest`: a VMX non-root engine, whose addresses are translated by the
 * model (vmx.c) rather than by Unicorn's page walk. */
int cpu_engine_open(struct cpu *c, struct engine *e, int guest)
{
	struct memmap *m = c->mem;
	int ok = 1;

	memset(e, 0, sizeof(*e));
	e->cap = 4096;
	e->blocks = calloc(e->cap, sizeof(*e->blocks));
	if (!e->blocks || uc_open(UC_ARCH_X86, UC_MODE_64, &e->uc) != UC_ERR_OK)
		return -ENOMEM;
	/* Unicorn's default model (qemu64) lacks instructions the profile
	 * advertises (SSSE3, SSE4.x, POPCNT): execute as a Sandy Bridge.  What
	 * the guest is told is the profile's CPUID, not this model's. */
	if (uc_ctl_set_cpu_model(e->uc, UC_CPU_X86_SANDYBRIDGE) != UC_ERR_OK)
		return -EIO;
	/* Unicorn 2.1.1 (fixed in 2.1.3, upstream commit 2128e01e) leaves
	 * its code buffer's region unallocated: the first time the buffer
	 * fills, it starts over on the same memory without a flush, and
	 * new code overwrites translation blocks still linked in its page
	 * lists; the next walk of one (a store to a code page,
	 * uc_ctl_remove_cache) follows garbage and the host dies of SIGBUS
	 * or SIGSEGV.  One flush before the first translation allocates the
	 * region, so that a full buffer is flushed as it should be.  The
	 * flush zeroes the whole buffer (2.1.1 again), which makes it
	 * resident: hence a buffer far below the 1 GiB default, still ten
	 * times what the largest engine of the test suite translates. */
	if (uc_ctl_set_tcg_buffer_size(e->uc, CPU_CODE_BUFFER) != UC_ERR_OK ||
	    uc_ctl_flush_tb(e->uc) != UC_ERR_OK)
		return -EIO;
	if (guest && vmx_engine_setup(c, e))
		return -EIO;
	e->ctx = cpu_ctx_new(e->uc);
	if (!e->ctx)
		return -ENOMEM;
	/* Unicorn starts XCR0 with every component it knows; the engine
	 * takes the LP's. */
	e->xcr0 = c->xcr0;
	if (cpu_ctx_set_xcr0(e->ctx, e->xcr0))
		return -EIO;
	if (uc_mem_map_ptr(e->uc, 0, memmap_ram_low(m), UC_PROT_ALL, memmap_ram(m)) != UC_ERR_OK)
		return -EIO;
	if (memmap_ram_high(m) &&
	    uc_mem_map_ptr(e->uc, MEMMAP_HIGH_RAM_BASE, memmap_ram_high(m), UC_PROT_ALL,
			   memmap_ram(m) + memmap_ram_low(m)) != UC_ERR_OK)
		return -EIO;
	e->nmmio = memmap_mmio_count(m);
	e->mmio_at = malloc((e->nmmio ? e->nmmio : 1) * sizeof(*e->mmio_at));
	if (!e->mmio_at)
		return -ENOMEM;
	for (size_t i = 0; i < e->nmmio; i++) {
		const struct memmap_region *r = memmap_mmio_at(m, i);
		uint64_t base = r->base & ~0xfffull, end = (r->base + r->size + 0xfff) & ~0xfffull;

		e->mmio_at[i] = ~0ull;
		if (r->absent)
			continue;
		if (uc_mmio_map(e->uc, base, end - base, mmio_read, (void *)r, mmio_write, (void *)r) != UC_ERR_OK)
			return -EIO;
		e->mmio_at[i] = base;
	}
	ok &= uc_hook_add(e->uc, &e->hooks[0], UC_HOOK_BLOCK, (void *)hook_block, c, 1, 0) == UC_ERR_OK;
	ok &= uc_hook_add(e->uc, &e->hooks[1], UC_HOOK_INTR, (void *)hook_intr, c, 1, 0) == UC_ERR_OK;
	ok &= uc_hook_add(e->uc, &e->hooks[2], UC_HOOK_INSN_INVALID, (void *)hook_invalid, c, 1, 0) == UC_ERR_OK;
	ok &= uc_hook_add(e->uc, &e->hooks[3], UC_HOOK_INSN, (void *)hook_cpuid, c, 1, 0, UC_X86_INS_CPUID) ==
	      UC_ERR_OK;
	ok &= uc_hook_add(e->uc, &e->hooks[4], UC_HOOK_INSN, (void *)hook_in, c, 1, 0, UC_X86_INS_IN) == UC_ERR_OK;
	ok &= uc_hook_add(e->uc, &e->hooks[5], UC_HOOK_INSN, (void *)hook_out, c, 1, 0, UC_X86_INS_OUT) ==
	      UC_ERR_OK;
	ok &= uc_hook_add(e->uc, &e->hooks[6], UC_HOOK_MEM_UNMAPPED, (void *)hook_unmapped, c, 1, 0) == UC_ERR_OK;
	ok &= uc_hook_add(e->uc, &e->hooks[7], UC_HOOK_INSN, (void *)hook_syscall, c, 1, 0, UC_X86_INS_SYSCALL) ==
	      UC_ERR_OK;
	if (!ok)
		return -EIO;
	/* No exit address: execution ends only when the model stops it. */
	uc_ctl_exits_enable(e->uc);
	cpu_set_dr7(e, 0x400);	/* the reset value (SDM Vol. 3 Table 9-1) */
	intr_engine_opened(c, e);
	return 0;
}

void cpu_engine_close(struct engine *e)
{
	if (e->blocks)
		for (size_t i = 0; i < e->cap; i++)
			free(e->blocks[i].detail);
	free(e->blocks);
	free(e->sites);
	free(e->charged);
	free(e->mmio_at);
	cpu_ctx_free(e->ctx);
	if (e->uc)
		uc_close(e->uc);
	memset(e, 0, sizeof(*e));
}

struct cpu *cpu_new(const struct cpu_config *cfg)
{
	struct cpu *c;

	if (cpu_selfcheck())
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->index = cfg->index;
	c->nlps = cfg->nlps;
	c->prof = cfg->profile;
	c->mem = cfg->mem;
	c->mmio_gen = memmap_mmio_generation(cfg->mem);
	c->mmio_seen = *c->mmio_gen;
	c->trace = cfg->trace;
	c->apic_page = ~0ull;
	c->dr6 = DR6_FIXED1;
	c->state = cfg->bsp ? CPU_RUNNING : CPU_WAIT_SIPI;
	c->debug = getenv("HVSIM_DEBUG") && strstr(getenv("HVSIM_DEBUG"), "exceptions");
	if (getenv("HVSIM_DEBUG") && strstr(getenv("HVSIM_DEBUG"), "blocks"))
		c->debug = 2;
	c->msr = calloc(c->prof->nmsrs ? c->prof->nmsrs : 1, sizeof(*c->msr));
	c->cm = cost_model_new(c->prof);
	c->e = &c->root;
	c->xcr0 = XCR0_X87;	/* at reset (SDM Vol. 1 13.3) */
	if (!c->msr || !c->cm || cpu_engine_open(c, &c->root, 0))
		goto fail;
	for (size_t i = 0; i < c->prof->nmsrs; i++)
		c->msr[i] = c->prof->msrs[i].reset;
	{
		const struct profile_msr *apic = profile_find_msr(c->prof, MSR_IA32_APIC_BASE);

		if (apic && !cfg->bsp)
			c->msr[apic - c->prof->msrs] &= ~(1ull << 8);	/* BSP flag (SDM 10.4.4) */
		/* Unicorn's own PAT and EFER start as the profile says. */
		for (size_t i = 0; i < c->prof->nmsrs; i++) {
			uint32_t idx = c->prof->msrs[i].index;

			if (msr_in_engine(idx) && idx != MSR_EFER) {
				uc_x86_msr mv = { .rid = idx, .value = c->prof->msrs[i].reset };

				uc_reg_write(c->e->uc, UC_X86_REG_MSR, &mv);
			}
		}
	}
	{
		/* CR4 bits the CPU has (SDM Vol. 3 2.5), from the profile's
		 * CPUID, and MAXPHYADDR (CPUID 0x80000008 EAX[7:0]). */
		uint32_t r1[4], r7[4], r8[4];

		profile_cpuid(c->prof, 1, 0, r1);
		profile_cpuid(c->prof, 7, 0, r7);
		profile_cpuid(c->prof, 0x80000008, 0, r8);
		c->maxphyaddr = (r8[0] & 0xff) ? r8[0] & 0xff : 36;
		c->cr4_valid = CR4_VME | CR4_PVI | CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE |
			       CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT;
		if (r1[2] & (1u << 5))
			c->cr4_valid |= CR4_VMXE;
		if (r1[2] & (1u << 6))
			c->cr4_valid |= 1ull << 14;	/* SMXE */
		if (r1[2] & (1u << 17))
			c->cr4_valid |= 1ull << 17;	/* PCIDE */
		if (r1[2] & (1u << 26)) {
			uint32_t rd[4];

			c->cr4_valid |= CR4_OSXSAVE;
			profile_cpuid(c->prof, 0xd, 0, rd);
			c->xcr0_valid = (rd[0] | (uint64_t)rd[3] << 32) | XCR0_X87;
		}
		if (r7[1] & (1u << 0))
			c->cr4_valid |= 1ull << 16;	/* FSGSBASE */
		if (r7[1] & (1u << 7))
			c->cr4_valid |= 1ull << 20;	/* SMEP */
		if (r7[1] & (1u << 20))
			c->cr4_valid |= 1ull << 21;	/* SMAP */
	}
	if (vmx_init(c) || intr_init(c, cfg->lapic) || synth_init(c, cfg->vflights))
		goto fail;
	return c;
fail:
	diag_error("cannot create logical processor %u", cfg->index);
	cpu_free(c);
	return NULL;
}

void cpu_free(struct cpu *c)
{
	if (!c)
		return;
	vmx_free(c);
	marks_free(c);
	align_free(c->align);
	intr_free(c);
	synth_free(c);
	cpu_engine_close(&c->root);
	cpu_engine_close(&c->guest);
	cost_model_free(c->cm);
	free(c->msr);
	free(c);
}

static struct cpu_seg flat_seg(uint16_t sel, uint32_t attr)
{
	return (struct cpu_seg){ sel, 0, 0xffffffff, attr };
}

int cpu_boot(struct cpu *c, const struct boot_entry *e)
{
	struct cpu_sysstate s;

	memset(&s, 0, sizeof(s));
	s.gdt_base = e->gdt_base;
	s.gdt_limit = e->gdt_limit;
	s.idt_limit = 0x3ff;
	s.tr = (struct cpu_seg){ 0, 0, 0xffff, SEG_ATTR_P | (0xb << 8) };	/* busy TSS */
	s.ldt = (struct cpu_seg){ 0, 0, 0xffff, SEG_ATTR_P | (0x2 << 8) };
	s.rflags = 2;
	switch (e->mode) {
	case BOOT_MODE_PROT32:
		/* Multiboot spec 3.2: flat 32-bit segments, PE on, paging off. */
		for (int i = 0; i < SEG_NSEGS; i++)
			s.seg[i] = flat_seg(0x10, 0x00cf9300);
		s.seg[SEG_CS] = flat_seg(0x08, 0x00cf9b00);
		s.cr0 = 0x11;	/* PE | ET */
		break;
	case BOOT_MODE_LONG64:
		/* include/hv/bootinfo.h: long mode, identity map, flat GDT. */
		for (int i = 0; i < SEG_NSEGS; i++)
			s.seg[i] = flat_seg(0x10, 0x00cf9300);
		s.seg[SEG_FS] = s.seg[SEG_GS] = (struct cpu_seg){ 0, 0, 0, 0 };
		s.seg[SEG_CS] = flat_seg(0x08, 0x00af9b00);
		s.cr0 = 0x80050033;	/* PG | AM | WP | NE | ET | MP | PE */
		s.cr3 = e->cr3;
		s.cr4 = 0x620;	/* OSXMMEXCPT | OSFXSR | PAE */
		s.efer = EFER_LME | EFER_LMA;
		break;
	case BOOT_MODE_REAL16:
		/* Real mode (SDM Vol. 3 9.1.4, 20.1): 64 KiB segments, base =
		 * selector << 4; CS:IP chosen so IP is the low 4 bits. */
		for (int i = 0; i < SEG_NSEGS; i++)
			s.seg[i] = (struct cpu_seg){ 0, 0, 0xffff, SEG_ATTR_P | SEG_ATTR_S | (3u << 8) };
		s.seg[SEG_CS] = (struct cpu_seg){ (uint16_t)(e->rip >> 4), e->rip & ~0xfull, 0xffff,
						  SEG_ATTR_P | SEG_ATTR_S | (0xbu << 8) };
		s.cr0 = 0x10;	/* ET */
		break;
	default:
		return -EINVAL;
	}
	{
		static const int gprs[] = { UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX,
					    UC_X86_REG_RSI, UC_X86_REG_RDI, UC_X86_REG_RBP, UC_X86_REG_RSP,
					    UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
					    UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15 };

		for (size_t i = 0; i < sizeof(gprs) / sizeof(gprs[0]); i++)
			set_reg(c, gprs[i], 0);
	}
	set_reg(c, UC_X86_REG_RFLAGS, 2);
	if (cpu_ctx_write(c->e->ctx, &s, CPU_TLB_FLUSH))
		return -EIO;
	set_reg(c, UC_X86_REG_RAX, e->rax);
	set_reg(c, UC_X86_REG_RBX, e->rbx);
	set_reg(c, UC_X86_REG_RDI, e->rdi);
	set_reg(c, UC_X86_REG_RSP, e->rsp);
	set_reg(c, UC_X86_REG_RIP, e->mode == BOOT_MODE_REAL16 ? e->rip & 0xf : e->rip);
	c->state = CPU_RUNNING;
	return 0;
}

/* ---- running --------------------------------------------------------- */

/* Linear address of the instruction at RIP: the CS base counts outside
 * 64-bit code (real mode: selector << 4).  Reads the saved context, so
 * only for the rare paths that look at instruction bytes. */
uint64_t cpu_rip_linear(struct cpu *c, uint64_t rip)
{
	struct cpu_sysstate s;

	if (cpu_ctx_read(c->e->ctx, &s) || ((s.efer & EFER_LMA) && (s.seg[SEG_CS].attr & SEG_ATTR_L)))
		return rip;
	return rip + s.seg[SEG_CS].base;
}

/* Are the bytes at linear address `lin` the opcode `op`? */
static int insn_is(struct cpu *c, uint64_t lin, const uint8_t *op, unsigned n)
{
	uint8_t b[4];

	return n <= sizeof(b) && !cpu_lin_peek(c, lin, b, n, 1) && !memcmp(b, op, n);
}

/* MONITOR and MWAIT (SDM Vol. 2B), which Unicorn's model lacks, when the
 * profile enumerates them (CPUID.01H:ECX.MONITOR): #UD at CPL > 0;
 * MONITOR with ECX other than 0 (no extensions) and MWAIT with ECX bits
 * other than 0 (interrupts as break events, leaf 5 ECX[1]) #GP(0).
 * MONITOR arms the monitoring hardware for DS:RAX (EAX, AX by the
 * address size: no 67H prefix is taken); MWAIT returns at once, which the
 * SDM allows ("the processor may exit the state for other events"): the
 * model has no idle state to enter.  It disarms the monitor.  Returns 1 if
 * the instruction at `lin` was one of them. */
static int monitor_mwait(struct cpu *c, uint64_t rip, uint64_t lin)
{
	static const uint8_t monitor[] = { 0x0f, 0x01, 0xc8 }, mwait[] = { 0x0f, 0x01, 0xc9 };
	uint32_t id[4];
	int is_mwait;

	profile_cpuid(c->prof, 1, 0, id);
	if (!(id[2] & (1u << 3)))
		return 0;
	if (insn_is(c, lin, mwait, sizeof(mwait)))
		is_mwait = 1;
	else if (insn_is(c, lin, monitor, sizeof(monitor)))
		is_mwait = 0;
	else
		return 0;
	if (cpu_cpl(c)) {
		cpu_raise_fault(c, VEC_UD, 0);
		return 1;
	}
	if ((uint32_t)reg(c, UC_X86_REG_RCX) & ~(is_mwait ? 1u : 0u)) {
		cpu_raise_fault(c, VEC_GP, 0);
		return 1;
	}
	if (is_mwait) {
		c->monitor_armed = 0;
	} else {
		unsigned bits = cpu_ctx_code_bits(c->e->ctx);
		uint64_t a = reg(c, UC_X86_REG_RAX), ds = 0;
		struct cpu_sysstate s;

		if (bits != 64) {
			a &= bits == 32 ? 0xffffffffull : 0xffffull;
			ds = cpu_ctx_read(c->e->ctx, &s) ? 0 : s.seg[SEG_DS].base;
		}
		c->monitor_armed = 1;
		c->monitor_addr = ds + a;
	}
	set_reg(c, UC_X86_REG_RIP, rip + 3);
	return 1;
}

static void handle_invalid(struct cpu *c)
{
	static const uint8_t rdpmc[] = { 0x0f, 0x33 }, rdtscp[] = { 0x0f, 0x01, 0xf9 };
	uint64_t rip = reg(c, UC_X86_REG_RIP), lin = cpu_rip_linear(c, rip);

	if (vmx_handle_invalid(c, rip, lin))
		return;
	if (c->vmx.nonroot && vmx_intercept_ud(c, rip, lin))
		return;
	if (monitor_mwait(c, rip, lin))
		return;
	/* RDPMC exists on every P6 and later core; Unicorn raises #UD for it.
	 * The profiles model no performance counters (CPUID leaf 0xA is 0), so
	 * every counter index is invalid: #GP(0), as it is at CPL > 0 with
	 * CR4.PCE clear (SDM Vol. 2B RDPMC). */
	if (insn_is(c, lin, rdpmc, sizeof(rdpmc))) {
		cpu_raise_fault(c, VEC_GP, 0);
		return;
	}

	/* RDTSCP outside a priced block's site list (e.g. reached by a jump
	 * into the middle of a block) still behaves architecturally. */
	if (insn_is(c, lin, rdtscp, sizeof(rdtscp))) {
		uint64_t v = c->cycles + (uint64_t)c->tsc_offset;

		set_reg(c, UC_X86_REG_RAX, (uint32_t)v);
		set_reg(c, UC_X86_REG_RDX, v >> 32);
		set_reg(c, UC_X86_REG_RCX, (uint32_t)cpu_engine_msr(c, MSR_TSC_AUX));
		set_reg(c, UC_X86_REG_RIP, rip + 3);
		return;
	}
	cpu_raise_fault(c, VEC_UD, 0);
}

static void handle_fault(struct cpu *c)
{
	uint32_t errc = 0;
	int soft = 0;
	unsigned vec = c->fault_vec;
	uint64_t rip = reg(c, UC_X86_REG_RIP);

	if (cpu_ctx_take_fault(c->e->ctx, &errc, &soft)) {
		cpu_shutdown(c, "host: cannot read fault state");
		return;
	}
	if (vec == VEC_DB && !soft) {
		/* A single-step trap: Unicorn set DR6.BS (and cleared B0-B3,
		 * no breakpoints being armed).  Keep what it says happened in
		 * db_bits, with the pending debug exceptions a VM entry left,
		 * and put the architectural DR6 back: whether DR6 changes is
		 * decided by delivery or a VM exit (SDM 17.3.1.4, 28.2.1). */
		c->db_bits = (uint32_t)(reg(c, UC_X86_REG_DR6) & DR6_BS);
		if (c->vmx.nonroot) {
			if (c->vmx.forced_tf) {
				c->db_bits &= ~(uint32_t)DR6_BS;
				set_reg(c, UC_X86_REG_RFLAGS, reg(c, UC_X86_REG_RFLAGS) & ~RFLAGS_TF);
				c->vmx.forced_tf = 0;
			}
			c->db_bits |= (uint32_t)(c->vmx.pending_dbg & (0xf | DR6_BS));
			c->vmx.pending_dbg = 0;
		}
		set_reg(c, UC_X86_REG_DR6, c->dr6);
	}
	/* INT n, INT3 and INTO report RIP past the instruction; faults report
	 * the faulting instruction (SDM 6.5). */
	cpu_raise_event(c, vec, soft ? EV_SOFT : EV_HW, errc, rip);
}

/* Did the engine stop just past a HLT? */
static int halted_at(struct cpu *c, uint64_t rip)
{
	uint8_t b;

	return !cpu_lin_peek(c, cpu_rip_linear(c, rip) - 1, &b, 1, 1) && b == 0xf4;
}

/* Unicorn 2.1.1: when a block hook stops the engine at a block entered
 * through a chained branch, the PC it leaves is the start of the block
 * before, although that block has run to its end and the stopping one
 * has not started.  The hook knows the block it stopped at, so restore
 * RIP from it (a linear address: subtract the CS base). */
static void fix_stop_rip(struct cpu *c)
{
	uint64_t rip = reg(c, UC_X86_REG_RIP), base;

	if (rip == c->stop_addr)
		return;
	base = cpu_rip_linear(c, rip) - rip;
	if (rip + base != c->stop_addr)
		set_reg(c, UC_X86_REG_RIP, c->stop_addr - base);
}

enum cpu_run_state cpu_run(struct cpu *c, uint64_t until)
{
	uint64_t start = c->cycles;

	c->until = until;
	/* c->until, not `until`: a device event scheduled while the LP runs
	 * lowers it (cpu_limit_run). */
	while (c->state == CPU_RUNNING && c->cycles < c->until && !c->stop_req) {
		uint64_t rip = reg(c, UC_X86_REG_RIP);
		uc_err e;

		c->stopping = 0;
		c->stop_addr = 0;
		c->fault_pending = 0;
		c->raise_pending = 0;
		c->syscall_pending = 0;
		if (rip != c->cont_addr)
			c->cont_addr = 0;
		if (c->apic_remap)
			intr_remap(c);
		if (*c->mmio_gen != c->mmio_seen)
			cpu_mmio_sync(c);
		if (intr_service(c))
			continue;	/* delivered, exited or waiting for SIPI: look again */
		if ((c->e->ac_stale_hi || ac_hooked(c) != c->e->ac_on) && ac_update(c)) {
			cpu_shutdown(c, "host: cannot switch alignment checking");
			break;
		}
		if (c->debug > 1)
			fprintf(stderr, "S %llx cyc %llu until %llu\n", (unsigned long long)rip,
				(unsigned long long)c->cycles, (unsigned long long)until);
		e = uc_emu_start(c->e->uc, rip, 0, 0, 0);
		if (c->debug > 1)
			fprintf(stderr, "E %llx err %d stopping %d stop_addr %llx\n",
				(unsigned long long)reg(c, UC_X86_REG_RIP), e, c->stopping,
				(unsigned long long)c->stop_addr);
		if (c->stop_addr)
			fix_stop_rip(c);
		if (c->vmx.nonroot && vmx_run_pending(c, e))
			continue;
		if (c->flush) {
			c->flush = 0;
			uc_ctl_remove_cache(c->e->uc, c->flush_lo, c->flush_hi);
			continue;
		}
		if (c->raise_pending) {
			cpu_raise_fault(c, c->raise_vec, c->raise_err);
			continue;
		}
		if (c->syscall_pending) {
			syscall_complete(c);
			continue;
		}
		if (c->invlpg_pending) {
			c->invlpg_pending = 0;
			/* Only translations go (SDM Vol. 3A 4.10.4.1), and
			 * QEMU's TLB flush takes its block look-up cache with
			 * it.  Translated code is kept by physical address and
			 * still right: emptying the code buffer as well (the
			 * TB flush this once did) costs about 0.2 s of host
			 * time and changes nothing a guest can see. */
			uc_ctl_flush_tlb(c->e->uc);
			if (c->vmx.nonroot)
				vmx_tlb_model_flush(c->e);
			cpu_continue_after_site(c, c->invlpg_addr, c->invlpg_size);
			continue;
		}
		if (c->fault_pending) {
			handle_fault(c);
			continue;
		}
		if (e == UC_ERR_INSN_INVALID) {
			handle_invalid(c);
			continue;
		}
		if (e != UC_ERR_OK) {
			if (c->state != CPU_SHUTDOWN)
				cpu_shutdown(c, "execution stopped at 0x%llx: %s",
					    (unsigned long long)reg(c, UC_X86_REG_RIP), uc_strerror(e));
			break;
		}
		if (c->stopping)
			continue;
		if (halted_at(c, reg(c, UC_X86_REG_RIP))) {
			/* The HLT was charged with its block. */
			if (c->vmx.nonroot && vmx_intercept_hlt(c, reg(c, UC_X86_REG_RIP)))
				continue;
			/* A guest in the HLT activity state wakes for an event
			 * or at its preemption timer (cpu_wake_deadline). */
			c->state = CPU_HALTED;
			break;
		}
		cpu_shutdown(c, "execution stopped at 0x%llx for no known reason",
			    (unsigned long long)reg(c, UC_X86_REG_RIP));
	}
	c->st.busy_cycles += c->cycles - start;
	c->stop_req = 0;
	return c->state;
}

uint64_t cpu_wake_deadline(const struct cpu *c)
{
	/* The timer counts in HLT, not in wait-for-SIPI (SDM 26.5.1). */
	if (c->state == CPU_HALTED && c->vmx.nonroot && c->vmx.preempt_deadline >= 0 &&
	    c->vmx.guest_halted != GUEST_ACTIVITY_WAIT_SIPI)
		return (uint64_t)c->vmx.preempt_deadline;
	return UINT64_MAX;
}

void cpu_limit_run(struct cpu *c, uint64_t until)
{
	if (until < c->until)
		c->until = until;
}

void cpu_request_stop(struct cpu *c)
{
	c->stop_req = 1;
	uc_emu_stop(c->e->uc);
	c->stopping = 1;
}

enum cpu_run_state cpu_state(const struct cpu *c)
{
	return c->state;
}

uint64_t cpu_cycles(const struct cpu *c)
{
	return c->cycles;
}

void cpu_idle_until(struct cpu *c, uint64_t cycles)
{
	if (cycles > c->cycles) {
		c->st.halted_cycles += cycles - c->cycles;
		c->cycles = cycles;
	}
}

const struct cpu_stats *cpu_get_stats(const struct cpu *c)
{
	((struct cpu *)c)->st.cycles = c->cycles;
	return &c->st;
}

const struct cpu_vmx_stats *cpu_get_vmx_stats(const struct cpu *c)
{
	return &c->vmx.st;
}

const struct cpu_hv_stats *cpu_get_hv_stats(const struct cpu *c)
{
	return &c->hv;
}

const char *cpu_vmx_exit_reason_name(unsigned reason)
{
	return vmcs_exit_reason_name(reason);
}

unsigned cpu_index(const struct cpu *c)
{
	return c->index;
}

const char *cpu_shutdown_reason(const struct cpu *c)
{
	return c->state == CPU_SHUTDOWN ? c->shutdown_reason : NULL;
}

void cpu_get_regs(struct cpu *c, struct cpu_regs *r)
{
	r->rax = reg(c, UC_X86_REG_RAX);
	r->rbx = reg(c, UC_X86_REG_RBX);
	r->rcx = reg(c, UC_X86_REG_RCX);
	r->rdx = reg(c, UC_X86_REG_RDX);
	r->rsi = reg(c, UC_X86_REG_RSI);
	r->rdi = reg(c, UC_X86_REG_RDI);
	r->rbp = reg(c, UC_X86_REG_RBP);
	r->rsp = reg(c, UC_X86_REG_RSP);
	r->r8 = reg(c, UC_X86_REG_R8);
	r->r9 = reg(c, UC_X86_REG_R9);
	r->r10 = reg(c, UC_X86_REG_R10);
	r->r11 = reg(c, UC_X86_REG_R11);
	r->r12 = reg(c, UC_X86_REG_R12);
	r->r13 = reg(c, UC_X86_REG_R13);
	r->r14 = reg(c, UC_X86_REG_R14);
	r->r15 = reg(c, UC_X86_REG_R15);
	r->rip = reg(c, UC_X86_REG_RIP);
	r->rflags = reg(c, UC_X86_REG_RFLAGS);
	r->cr0 = reg(c, UC_X86_REG_CR0);
	r->cr2 = reg(c, UC_X86_REG_CR2);
	r->cr3 = reg(c, UC_X86_REG_CR3);
	r->cr4 = reg(c, UC_X86_REG_CR4);
	r->efer = cpu_engine_msr(c, MSR_EFER);
	r->cs = (uint16_t)reg(c, UC_X86_REG_CS);
	r->ss = (uint16_t)reg(c, UC_X86_REG_SS);
}
