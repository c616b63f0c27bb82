/* See cpu_state.h.  Offsets are relative to the CPUX86State copy inside a
 * uc_context; they are found or verified by cpu_ctx_calibrate() against a
 * scratch engine before any engine is used. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_state.h"
#include "diag.h"

/* QEMU 5 hflags bits (target/i386/cpu.h), as Unicorn 2.1 keeps them. */
#define HF_CPL_MASK 3u
#define HF_INHIBIT_IRQ (1u << 3)
#define HF_CS32 (1u << 4)
#define HF_SS32 (1u << 5)
#define HF_ADDSEG (1u << 6)
#define HF_PE (1u << 7)
#define HF_MP_SHIFT 9
#define HF_MP (1u << 9)
#define HF_EM (1u << 10)
#define HF_TS (1u << 11)
#define HF_LMA (1u << 14)
#define HF_CS64 (1u << 15)
#define HF_OSFXSR (1u << 22)
/* Bits this file never changes (SMM, SVM, guest mode, MPX, I/O breakpoints). */
#define HF_KEEP ((1u << 19) | (1u << 20) | (1u << 21) | (1u << 24) | (1u << 25) | (1u << 26))

#define EFLAGS_VM (1ull << 17)
#define EFER_LMA (1ull << 10)

struct layout {
	size_t data;		/* start of CPUX86State in the blob */
	size_t hflags, segs, ldt, tr, gdt, idt, cr, efer;
	size_t error_code, exception_is_int, old_exception;
	size_t xcr0;
	int ok;
};

static struct layout L;

/* SegmentCache: u32 selector, (pad), u64 base, u32 limit, u32 flags. */
#define SC_SIZE 24
#define SC_SEL 0
#define SC_BASE 8
#define SC_LIMIT 16
#define SC_FLAGS 20

struct cpu_ctx {
	uc_engine *uc;
	uc_context *ctx;
	uint8_t *blob;
	size_t size;
};

static uint32_t get32(const uint8_t *b, size_t off)
{
	uint32_t v;

	memcpy(&v, b + L.data + off, 4);
	return v;
}

static uint64_t get64(const uint8_t *b, size_t off)
{
	uint64_t v;

	memcpy(&v, b + L.data + off, 8);
	return v;
}

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	memcpy(b + L.data + off, &v, 4);
}

static void put64(uint8_t *b, size_t off, uint64_t v)
{
	memcpy(b + L.data + off, &v, 8);
}

static size_t find64(const uint8_t *b, size_t n, uint64_t v)
{
	for (size_t i = 0; i + 8 <= n; i++)
		if (!memcmp(b + i, &v, 8))
			return i;
	return (size_t)-1;
}

static void get_seg(const uint8_t *b, size_t off, struct cpu_seg *s)
{
	s->sel = (uint16_t)get32(b, off + SC_SEL);
	s->base = get64(b, off + SC_BASE);
	s->limit = get32(b, off + SC_LIMIT);
	s->attr = get32(b, off + SC_FLAGS);
}

static void put_seg(uint8_t *b, size_t off, const struct cpu_seg *s)
{
	put32(b, off + SC_SEL, s->sel);
	put64(b, off + SC_BASE, s->base);
	put32(b, off + SC_LIMIT, s->limit);
	put32(b, off + SC_FLAGS, s->attr);
}

void cpu_seg_from_desc(uint64_t d, uint16_t sel, struct cpu_seg *s)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));

	s->sel = sel;
	s->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
	s->attr = (uint32_t)(d >> 32) & 0x00f0ff00;
	s->limit = (s->attr & SEG_ATTR_G) ? (limit << 12) | 0xfff : limit;
}

/* The mode flags QEMU derives from CR0, CR4, EFER and the CS/SS/DS/ES
 * caches (QEMU's cpu_x86_load_seg_cache and cpu_x86_update_cr0 rules). */
static uint32_t compute_hflags(uint32_t old, const struct cpu_sysstate *s)
{
	uint32_t hf = old & HF_KEEP;
	int pe = s->cr0 & 1;
	const struct cpu_seg *cs = &s->seg[SEG_CS], *ss = &s->seg[SEG_SS];

	if (pe)
		hf |= HF_PE | (s->cpl & 3);
	hf |= (uint32_t)(s->cr0 << (HF_MP_SHIFT - 1)) & (HF_MP | HF_EM | HF_TS);
	if (s->cr4 & (1u << 9))
		hf |= HF_OSFXSR;
	if (s->efer & EFER_LMA)
		hf |= HF_LMA;
	if ((s->efer & EFER_LMA) && (cs->attr & SEG_ATTR_L)) {
		hf |= HF_CS32 | HF_SS32 | HF_CS64;
	} else {
		if (cs->attr & SEG_ATTR_DB)
			hf |= HF_CS32;
		if (ss->attr & SEG_ATTR_DB)
			hf |= HF_SS32;
		if (!pe || (s->rflags & EFLAGS_VM) || !(hf & HF_CS32))
			hf |= HF_ADDSEG;
		else if (s->seg[SEG_DS].base | s->seg[SEG_ES].base | ss->base)
			hf |= HF_ADDSEG;
	}
	return hf;
}

struct cpu_ctx *cpu_ctx_new(uc_engine *uc)
{
	struct cpu_ctx *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->uc = uc;
	if (uc_context_alloc(uc, &x->ctx) != UC_ERR_OK) {
		free(x);
		return NULL;
	}
	x->blob = (uint8_t *)x->ctx;
	x->size = uc_context_size(uc);
	return x;
}

void cpu_ctx_free(struct cpu_ctx *x)
{
	if (!x)
		return;
	uc_context_free(x->ctx);
	free(x);
}

static int save(struct cpu_ctx *x)
{
	return uc_context_save(x->uc, x->ctx) == UC_ERR_OK ? 0 : -EIO;
}


int cpu_ctx_read(struct cpu_ctx *x, struct cpu_sysstate *s)
{
	struct cpu_seg g;

	if (save(x))
		return -EIO;
	for (int i = 0; i < SEG_NSEGS; i++)
		get_seg(x->blob, L.segs + i * SC_SIZE, &s->seg[i]);
	get_seg(x->blob, L.ldt, &s->ldt);
	get_seg(x->blob, L.tr, &s->tr);
	get_seg(x->blob, L.gdt, &g);
	s->gdt_base = g.base;
	s->gdt_limit = g.limit;
	get_seg(x->blob, L.idt, &g);
	s->idt_base = g.base;
	s->idt_limit = g.limit;
	s->cr0 = get64(x->blob, L.cr + 0 * 8);
	s->cr3 = get64(x->blob, L.cr + 3 * 8);
	s->cr4 = get64(x->blob, L.cr + 4 * 8);
	s->efer = get64(x->blob, L.efer);
	s->cpl = (s->cr0 & 1) ? get32(x->blob, L.hflags) & HF_CPL_MASK : 0;
	uc_reg_read(x->uc, UC_X86_REG_RFLAGS, &s->rflags);
	return 0;
}

/* The control bits a translation, or the permissions Unicorn caches with
 * it, depends on: paging on and its mode (CR0.PG, CR4.PAE, CR4.LA57,
 * EFER.LMA), large pages (CR4.PSE), global pages (CR4.PGE), PCIDs
 * (CR4.PCIDE), and the access rights (CR0.WP, CR4.SMEP, CR4.SMAP,
 * CR4.PKE, EFER.NXE) (SDM Vol. 3A 4.1.3, 4.6).  The SDM's MOV to CR0/CR4
 * rules (4.10.4.1) invalidate on a subset; QEMU's own CR writes flush on
 * all of these, and so must a load that bypasses them. */
#define CR0_XLAT ((1ull << 31) | (1ull << 16) | 1ull)	/* PG, WP, PE */
#define CR4_XLAT ((1ull << 4) | (1ull << 5) | (1ull << 7) | (1ull << 12) | (1ull << 17) | \
		  (1ull << 20) | (1ull << 21) | (1ull << 22))	/* PSE PAE PGE LA57 PCIDE SMEP SMAP PKE */
#define EFER_XLAT (EFER_LMA | (1ull << 11))	/* LMA, NXE */

static int remapped(const uint8_t *b, const struct cpu_sysstate *s)
{
	return ((get64(b, L.cr + 0 * 8) ^ s->cr0) & CR0_XLAT) || get64(b, L.cr + 3 * 8) != s->cr3 ||
	       ((get64(b, L.cr + 4 * 8) ^ s->cr4) & CR4_XLAT) || ((get64(b, L.efer) ^ s->efer) & EFER_XLAT);
}

int cpu_ctx_write(struct cpu_ctx *x, const struct cpu_sysstate *s, enum cpu_tlb tlb)
{
	struct cpu_seg g = { 0 };
	int flush;

	if (save(x))
		return -EIO;
	/* Any other value flushes: the safe side. */
	flush = tlb == CPU_TLB_KEEP ? 0 : tlb == CPU_TLB_IF_REMAPPED ? remapped(x->blob, s) : 1;
	for (int i = 0; i < SEG_NSEGS; i++)
		put_seg(x->blob, L.segs + i * SC_SIZE, &s->seg[i]);
	put_seg(x->blob, L.ldt, &s->ldt);
	put_seg(x->blob, L.tr, &s->tr);
	g.base = s->gdt_base;
	g.limit = s->gdt_limit;
	put_seg(x->blob, L.gdt, &g);
	g.base = s->idt_base;
	g.limit = s->idt_limit;
	put_seg(x->blob, L.idt, &g);
	put64(x->blob, L.cr + 0 * 8, s->cr0);
	put64(x->blob, L.cr + 3 * 8, s->cr3);
	put64(x->blob, L.cr + 4 * 8, s->cr4);
	put64(x->blob, L.efer, s->efer);
	put32(x->blob, L.hflags, compute_hflags(get32(x->blob, L.hflags), s));
	if (uc_context_restore(x->uc, x->ctx) != UC_ERR_OK)
		return -EIO;
	/* uc_context_restore copies CPUX86State only; the TLB lives outside
	 * it and is left as it was. */
	if (flush)
		uc_ctl_flush_tlb(x->uc);
	return 0;
}

int cpu_ctx_set_cr2(struct cpu_ctx *x, uint64_t cr2)
{
	if (save(x))
		return -EIO;
	put64(x->blob, L.cr + 2 * 8, cr2);
	return uc_context_restore(x->uc, x->ctx) == UC_ERR_OK ? 0 : -EIO;
}

int cpu_ctx_inhibited(struct cpu_ctx *x)
{
	if (save(x))
		return 0;
	return !!(get32(x->blob, L.hflags) & HF_INHIBIT_IRQ);
}

int cpu_ctx_set_inhibited(struct cpu_ctx *x, int on)
{
	uint32_t hf;

	if (save(x))
		return -EIO;
	hf = get32(x->blob, L.hflags) & ~HF_INHIBIT_IRQ;
	put32(x->blob, L.hflags, hf | (on ? HF_INHIBIT_IRQ : 0));
	return uc_context_restore(x->uc, x->ctx) == UC_ERR_OK ? 0 : -EIO;
}

int cpu_ctx_take_fault(struct cpu_ctx *x, uint32_t *error_code, int *is_soft)
{
	if (save(x))
		return -EIO;
	*error_code = get32(x->blob, L.error_code);
	*is_soft = (int)get32(x->blob, L.exception_is_int);
	put32(x->blob, L.old_exception, 0xffffffffu);
	return uc_context_restore(x->uc, x->ctx) == UC_ERR_OK ? 0 : -EIO;
}

int cpu_ctx_set_xcr0(struct cpu_ctx *x, uint64_t xcr0)
{
	if (save(x))
		return -EIO;
	put64(x->blob, L.xcr0, xcr0);
	return uc_context_restore(x->uc, x->ctx) == UC_ERR_OK ? 0 : -EIO;
}

unsigned cpu_ctx_code_bits(struct cpu_ctx *x)
{
	uint32_t hf;

	if (save(x))
		return 64;
	hf = get32(x->blob, L.hflags);
	return (hf & HF_CS64) ? 64 : (hf & HF_CS32) ? 32 : 16;
}

/* ---- calibration ------------------------------------------------------ */

static int fault_vector;

static void calib_intr(uc_engine *uc, uint32_t intno, void *user)
{
	fault_vector = (int)intno;
	uc_emu_stop(uc);
}

static int calib_fail(const char *what)
{
	unsigned major, minor;

	uc_version(&major, &minor);
	diag_error("Unicorn %u.%u: cannot calibrate the CPU context layout (%s); "
		   "hvsim needs Unicorn 2.1 as packaged by Debian 13", major, minor, what);
	return -ENOTSUP;
}

/* Run `code` at 0x1000 in the scratch engine; returns the vector reported
 * by the interrupt hook, or -1 if none. */
static int calib_run(uc_engine *uc, const uint8_t *code, size_t len)
{
	uint64_t rip = 0x1000;

	uc_mem_write(uc, rip, code, len);
	uc_ctl_remove_cache(uc, rip, rip + 0x1000);
	fault_vector = -1;
	uc_reg_write(uc, UC_X86_REG_RIP, &rip);
	uc_emu_start(uc, rip, 0, 0, 0);
	return fault_vector;
}

int cpu_ctx_calibrate(void)
{
	uc_engine *uc;
	uc_hook h;
	struct cpu_ctx *x;
	uint64_t v;
	int rc = -ENOTSUP;
	/* mov ax, sel; mov ds, ax  -> #GP(sel) with a 3-entry GDT */
	uint8_t gp_a[] = { 0x66, 0xB8, 0x30, 0x12, 0x8E, 0xD8, 0xF4 };
	uint8_t gp_b[] = { 0x66, 0xB8, 0x68, 0x45, 0x8E, 0xD8, 0xF4 };
	/* xor edx,edx; div edx -> #DE; the same again must not be #DF */
	uint8_t de[] = { 0x31, 0xD2, 0xF7, 0xF2, 0xF4 };
	/* mov eax,5; dec eax (0x48: REX.W in 64-bit code); hlt */
	uint8_t m32[] = { 0xB8, 5, 0, 0, 0, 0x48, 0xF4 };
	/* xor ecx,ecx; xor edx,edx; mov eax,N; xsetbv; hlt */
	uint8_t xset[] = { 0x31, 0xC9, 0x31, 0xD2, 0xB8, 3, 0, 0, 0, 0x0F, 0x01, 0xD1, 0xF4 };
	/* xor ecx,ecx; xgetbv; hlt */
	uint8_t xget[] = { 0x31, 0xC9, 0x0F, 0x01, 0xD0, 0xF4 };
	uint64_t gdt[3] = { 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull };
	uc_x86_mmr gdtr = { 0, 0x5000, sizeof(gdt) - 1, 0 };

	if (L.ok)
		return 0;
	if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc) != UC_ERR_OK)
		return calib_fail("uc_open");
	/* The model the LPs' engines use (cpu.c): it has XSAVE. */
	if (uc_ctl_set_cpu_model(uc, UC_CPU_X86_SANDYBRIDGE) != UC_ERR_OK) {
		uc_close(uc);
		return calib_fail("no Sandy Bridge CPU model");
	}
	uc_mem_map(uc, 0, 0x10000, UC_PROT_ALL);
	uc_hook_add(uc, &h, UC_HOOK_INTR, (void *)calib_intr, NULL, 1, 0);
	uc_mem_write(uc, 0x5000, gdt, sizeof(gdt));
	uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr);
	x = cpu_ctx_new(uc);
	if (!x)
		goto out;

	/* Where CPUX86State starts: RAX is its first field. */
	v = 0x5ca1ab1e0dd0c0deull;
	uc_reg_write(uc, UC_X86_REG_RAX, &v);
	v = 0xfeedfacecafe0001ull;
	uc_reg_write(uc, UC_X86_REG_FS_BASE, &v);
	save(x);
	L.data = find64(x->blob, x->size, 0x5ca1ab1e0dd0c0deull);
	if (L.data == (size_t)-1) {
		rc = calib_fail("RAX not found in the context");
		goto out;
	}
	/* QEMU 5 CPUX86State: regs[16], eip, eflags, cc_dst, cc_src, cc_src2,
	 * cc_op, df, hflags, hflags2, segs[6], ldt, tr, gdt, idt, cr[5]... */
	L.hflags = 176;
	L.segs = 184;
	L.ldt = L.segs + 6 * SC_SIZE;
	L.tr = L.ldt + SC_SIZE;
	L.gdt = L.tr + SC_SIZE;
	L.idt = L.gdt + SC_SIZE;
	L.cr = L.idt + SC_SIZE;
	L.efer = 560;
	if (get64(x->blob, L.segs + SEG_FS * SC_SIZE + SC_BASE) != 0xfeedfacecafe0001ull) {
		rc = calib_fail("FS base is not where QEMU 5 keeps it");
		goto out;
	}
	if ((get32(x->blob, L.hflags) & (HF_LMA | HF_CS64 | HF_PE)) != (HF_LMA | HF_CS64 | HF_PE) ||
	    get64(x->blob, L.efer) != 0x500 || get64(x->blob, L.gdt + SC_BASE) != 0x5000) {
		rc = calib_fail("hflags, EFER or GDTR not where expected");
		goto out;
	}

	/* old_exception: -1 before any fault, the vector after a #DE. */
	{
		static uint8_t a[16384], b[16384];
		int found = 0;

		if (x->size > sizeof(a))
			goto out;
		save(x);
		memcpy(a, x->blob, x->size);
		if (calib_run(uc, de, sizeof(de)) != 0) {
			rc = calib_fail("#DE not reported");
			goto out;
		}
		save(x);
		for (size_t off = 600; off + 4 <= x->size - L.data; off += 4) {
			uint32_t va, vb;

			memcpy(&va, a + L.data + off, 4);
			vb = get32(x->blob, off);
			if (va == 0xffffffffu && vb == 0) {
				if (found++) {
					rc = calib_fail("exception-in-flight marker is ambiguous");
					goto out;
				}
				L.old_exception = off;
			}
		}
		if (!found) {
			rc = calib_fail("exception-in-flight marker not found");
			goto out;
		}
		put32(x->blob, L.old_exception, 0xffffffffu);
		uc_context_restore(uc, x->ctx);

		/* error_code: two #GPs with different selectors as error codes. */
		if (calib_run(uc, gp_a, sizeof(gp_a)) != 13)
			goto gp_fail;
		save(x);
		memcpy(a, x->blob, x->size);
		put32(x->blob, L.old_exception, 0xffffffffu);
		uc_context_restore(uc, x->ctx);
		if (calib_run(uc, gp_b, sizeof(gp_b)) != 13)
			goto gp_fail;
		save(x);
		memcpy(b, x->blob, x->size);
		found = 0;
		for (size_t off = 600; off + 4 <= x->size - L.data; off += 4) {
			uint32_t va, vb;

			memcpy(&va, a + L.data + off, 4);
			memcpy(&vb, b + L.data + off, 4);
			if (va == 0x1230 && vb == 0x4568 && !found) {
				L.error_code = off;
				found = 1;
			}
		}
		if (!found) {
gp_fail:
			rc = calib_fail("error code of a #GP not found");
			goto out;
		}
		/* QEMU keeps exception_is_int right after error_code. */
		L.exception_is_int = L.error_code + 4;

		/* XCR0 (SDM Vol. 1 13.3): the one 64-bit field an XSETBV of 1
		 * and then one of 3 change from 1 to 3. */
		uc_reg_read(uc, UC_X86_REG_CR4, &v);
		v |= 1ull << 18;	/* CR4.OSXSAVE */
		uc_reg_write(uc, UC_X86_REG_CR4, &v);
		xset[5] = 1;
		if (calib_run(uc, xset, sizeof(xset)) != -1)
			goto xset_fail;
		save(x);
		memcpy(a, x->blob, x->size);
		xset[5] = 3;
		if (calib_run(uc, xset, sizeof(xset)) != -1) {
xset_fail:
			rc = calib_fail("XSETBV faulted");
			goto out;
		}
		save(x);
		found = 0;
		for (size_t off = 600; off + 8 <= x->size - L.data; off += 8) {
			uint64_t va, vb;

			memcpy(&va, a + L.data + off, 8);
			vb = get64(x->blob, off);
			if (va == 1 && vb == 3) {
				found++;
				L.xcr0 = off;
			}
		}
		if (found != 1) {
			rc = calib_fail("XCR0 not found");
			goto out;
		}
	}
	L.ok = 1;

	/* Self-check 1: with the marker cleared, two #DE stay #DE. */
	{
		uint32_t ec;
		int soft;

		cpu_ctx_take_fault(x, &ec, &soft);
		if (calib_run(uc, de, sizeof(de)) != 0)
			goto de_fail;
		cpu_ctx_take_fault(x, &ec, &soft);
		if (calib_run(uc, de, sizeof(de)) != 0) {
de_fail:
			L.ok = 0;
			rc = calib_fail("a second #DE was not reported as #DE");
			goto out;
		}
		cpu_ctx_take_fault(x, &ec, &soft);
	}
	/* Self-check 2: XCR0 set through the context is what XGETBV reads. */
	cpu_ctx_set_xcr0(x, 1);
	if (calib_run(uc, xget, sizeof(xget)) != -1 || (uc_reg_read(uc, UC_X86_REG_RAX, &v), v != 1)) {
		L.ok = 0;
		rc = calib_fail("XCR0 could not be loaded");
		goto out;
	}
	/* Self-check 3: loading flat 32-bit protected mode decodes 32-bit code. */
	{
		struct cpu_sysstate s;

		cpu_ctx_read(x, &s);
		for (int i = 0; i < SEG_NSEGS; i++) {
			s.seg[i] = (struct cpu_seg){ 0x10, 0, 0xffffffff, 0x00cf9300 };
		}
		s.seg[SEG_CS] = (struct cpu_seg){ 0x08, 0, 0xffffffff, 0x00cf9b00 };
		s.cr0 = 0x11;
		s.cr4 = 0;
		s.efer = 0;
		s.cpl = 0;
		s.rflags = 2;
		cpu_ctx_write(x, &s, CPU_TLB_FLUSH);
		calib_run(uc, m32, sizeof(m32));
		uc_reg_read(uc, UC_X86_REG_RAX, &v);
		if ((uint32_t)v != 4 || cpu_ctx_code_bits(x) != 32) {
			L.ok = 0;
			rc = calib_fail("32-bit protected mode could not be loaded");
			goto out;
		}
	}
	rc = 0;
out:
	cpu_ctx_free(x);
	uc_close(uc);
	return rc;
}
