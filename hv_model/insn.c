/* MOV decoding and the guest page walk for emulated MMIO (insn.h).
 * Pure code: no hv_model state, no libc. */
#include "insn.h"

/* ---- decoding (SDM Vol. 2A ch. 2) ---- */

struct cursor {
	const uint8_t *b;
	unsigned avail, pos;
	bool short_;
};

static uint8_t next8(struct cursor *c)
{
	if (c->pos >= c->avail || c->pos >= HV_INSN_MAX) {
		c->short_ = true;
		return 0;
	}
	return c->b[c->pos++];
}

/* n little-endian bytes, sign-extended from 8n bits. */
static int64_t next_signed(struct cursor *c, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)next8(c) << (8 * i);
	if (n < 8 && (v >> (8 * n - 1) & 1))
		v |= ~0ull << (8 * n);
	return (int64_t)v;
}

/* The ModRM memory operand (and SIB, displacement); `mod` is not 3. */
static void modrm_mem(struct cursor *c, struct hv_insn *d, unsigned mod, unsigned rm, unsigned rex, bool long_mode)
{
	d->base = d->index = HV_INSN_NO_REG;
	d->scale = 1;
	if (d->addr_size == 2) {
		/* SDM Table 2-1: 16-bit addressing forms. */
		static const uint8_t base16[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };	/* BX BX BP BP SI DI BP BX */
		static const uint8_t index16[8] = { 6, 7, 6, 7, HV_INSN_NO_REG, HV_INSN_NO_REG, HV_INSN_NO_REG,
						    HV_INSN_NO_REG };	/* SI DI SI DI */

		if (mod == 0 && rm == 6) {
			d->disp = next_signed(c, 2);
			return;
		}
		d->base = base16[rm];
		d->index = index16[rm];
		if (d->base == 5)
			d->seg = HV_SEG_SS;	/* BP-based: SS (SDM Vol. 1 3.7.4) */
		d->disp = mod == 1 ? next_signed(c, 1) : mod == 2 ? next_signed(c, 2) : 0;
		return;
	}
	/* SDM Tables 2-2, 2-3: 32/64-bit addressing. */
	if (rm == 4) {
		uint8_t sib = next8(c);
		unsigned ss = sib >> 6, idx = (sib >> 3 & 7) | (rex & 2) << 2, base = sib & 7;

		if (idx != 4)
			d->index = (uint8_t)idx;	/* index 100b without REX.X: none */
		d->scale = (uint8_t)(1u << ss);
		if (base == 5 && mod == 0) {
			d->disp = next_signed(c, 4);	/* no base, disp32 */
			return;
		}
		d->base = (uint8_t)(base | (rex & 1) << 3);
	} else if (rm == 5 && mod == 0) {
		d->disp = next_signed(c, 4);
		d->rip_rel = long_mode;		/* 64-bit mode: RIP + disp32 (SDM 2.2.1.6) */
		return;
	} else {
		d->base = (uint8_t)(rm | (rex & 1) << 3);
	}
	if (d->base == 4 || d->base == 5)
		d->seg = HV_SEG_SS;	/* rSP or rBP as base: SS (SDM Vol. 1 3.7.4) */
	d->disp = mod == 1 ? next_signed(c, 1) : mod == 2 ? next_signed(c, 4) : 0;
}

unsigned hv_insn_code_bits(bool pe, bool vm86, bool lma, uint32_t cs_ar)
{
	if (!pe || vm86)
		return 16;
	if (lma && (cs_ar & (1u << 13)))
		return 64;
	return (cs_ar & (1u << 14)) ? 32 : 16;
}

enum hv_insn_status hv_insn_decode(const uint8_t *b, unsigned avail, unsigned code_bits, struct hv_insn *d)
{
	struct cursor c = { b, avail, 0, false };
	bool long_mode = code_bits == 64, opsize = false, adsize = false, lock = false, has_rex = false;
	unsigned rex = 0, seg = 0xff, op, mod, reg, rm;
	uint8_t x;

	*d = (struct hv_insn){ .reg = HV_INSN_NO_REG, .base = HV_INSN_NO_REG, .index = HV_INSN_NO_REG, .scale = 1 };
	for (;;) {
		x = next8(&c);
		if (c.short_)
			return HV_INSN_SHORT;
		switch (x) {
		case 0xf0:
			lock = true;
			break;
		case 0xf2:
		case 0xf3:
			break;		/* REP/REPNE: no meaning with MOV */
		case 0x26: seg = HV_SEG_ES; break;
		case 0x2e: seg = HV_SEG_CS; break;
		case 0x36: seg = HV_SEG_SS; break;
		case 0x3e: seg = HV_SEG_DS; break;
		case 0x64: seg = HV_SEG_FS; break;
		case 0x65: seg = HV_SEG_GS; break;
		case 0x66:
			opsize = true;
			break;
		case 0x67:
			adsize = true;
			break;
		default:
			if (long_mode && (x & 0xf0) == 0x40) {
				rex = x & 0xf;
				has_rex = true;
				x = next8(&c);
				if (c.short_)
					return HV_INSN_SHORT;
				if ((x & 0xf0) == 0x40 || x == 0xf0 || x == 0xf2 || x == 0xf3 || x == 0x26 ||
				    x == 0x2e || x == 0x36 || x == 0x3e || x == 0x64 || x == 0x65 || x == 0x66 ||
				    x == 0x67) {
					/* A REX not right before the opcode is ignored
					 * (SDM 2.2.1): go on with the prefixes. */
					rex = 0;
					has_rex = false;
					c.pos--;
					continue;
				}
			}
			goto opcode;
		}
		rex = 0;
	}
opcode:
	op = x;
	if (op == 0x0f) {
		/* Two-byte opcodes (SDM Vol. 2A 2.1.2): 0F xx is op 0x1xx. */
		x = next8(&c);
		if (c.short_)
			return HV_INSN_SHORT;
		op = 0x100 | x;
	}
	/* Sizes (SDM Vol. 1 3.6, Vol. 2A 2.2.1.2): REX.W makes 64 bits and
	 * beats 66; 66 toggles between 16 and 32; 67 likewise for addresses
	 * (in 64-bit mode between 64 and 32). */
	if (code_bits == 16)
		d->addr_size = adsize ? 4 : 2;
	else if (code_bits == 32)
		d->addr_size = adsize ? 2 : 4;
	else
		d->addr_size = adsize ? 4 : 8;
	if (rex & 8)
		d->reg_size = 8;
	else if (code_bits == 16)
		d->reg_size = opsize ? 4 : 2;
	else
		d->reg_size = opsize ? 2 : 4;
	if (op == 0x88 || op == 0x8a || op == 0xc6 || op == 0xa0 || op == 0xa2)
		d->reg_size = 1;
	d->size = d->reg_size;
	if (op == 0x1b6 || op == 0x1b7 || op == 0x1be || op == 0x1bf) {
		/* MOVZX/MOVSX (SDM Vol. 2B): a byte (B6, BE) or a word (B7,
		 * BF) from memory, widened into the operand-size register. */
		d->size = (op & 1) ? 2 : 1;
		d->ext = op < 0x1be ? HV_INSN_EXT_ZERO : HV_INSN_EXT_SIGN;
	}
	d->seg = HV_SEG_DS;

	switch (op) {
	case 0x88:
	case 0x89:
	case 0x8a:
	case 0x8b:
	case 0xc6:
	case 0xc7:
	case 0x1b6:
	case 0x1b7:
	case 0x1be:
	case 0x1bf:
		x = next8(&c);
		if (c.short_)
			return HV_INSN_SHORT;
		mod = x >> 6;
		reg = (x >> 3 & 7) | (rex & 4) << 1;
		rm = x & 7;
		if (mod == 3)
			return HV_INSN_UNSUPPORTED;	/* register to register: no memory */
		if ((op == 0xc6 || op == 0xc7) && (x >> 3 & 7) != 0)
			return HV_INSN_UNSUPPORTED;	/* C6/C7 /1-/7: not MOV */
		modrm_mem(&c, d, mod, rm, rex, long_mode);
		d->store = op == 0x88 || op == 0x89 || op == 0xc6 || op == 0xc7;
		if (op == 0xc6 || op == 0xc7) {
			/* imm8, imm16, or imm32 (sign-extended with REX.W) */
			unsigned n = d->size == 8 ? 4 : d->size;
			uint64_t v = (uint64_t)next_signed(&c, n);

			d->imm = d->size == 8 ? v : v & (~0ull >> (64 - 8 * d->size));
		} else {
			d->reg = (uint8_t)reg;
			/* Byte registers 4-7 without any REX: AH, CH, DH, BH. */
			if (d->reg_size == 1 && !has_rex && reg >= 4 && reg <= 7) {
				d->reg = (uint8_t)(reg - 4);
				d->high8 = true;
			}
		}
		break;
	case 0xa0:
	case 0xa1:
	case 0xa2:
	case 0xa3:
		/* moffs: an offset of the address size, no ModRM (SDM Vol. 2B
		 * MOV, "moffs"). */
		d->disp = next_signed(&c, d->addr_size);
		d->reg = 0;
		d->store = op >= 0xa2;
		break;
	default:
		return c.short_ ? HV_INSN_SHORT : HV_INSN_UNSUPPORTED;
	}
	if (c.short_)
		return HV_INSN_SHORT;
	if (lock)
		return HV_INSN_LOCK;
	/* In 64-bit mode only FS and GS overrides have an effect (SDM Vol. 1
	 * 3.7.4.1); the others leave the default. */
	if (seg != 0xff && (!long_mode || seg == HV_SEG_FS || seg == HV_SEG_GS))
		d->seg = (uint8_t)seg;
	d->len = (uint8_t)c.pos;
	return HV_INSN_OK;
}

uint64_t hv_insn_ea(const struct hv_insn *d, const uint64_t gpr[16], uint64_t next_rip)
{
	uint64_t ea = (uint64_t)d->disp;

	if (d->rip_rel)
		ea += next_rip;
	if (d->base != HV_INSN_NO_REG)
		ea += gpr[d->base & 15];
	if (d->index != HV_INSN_NO_REG)
		ea += gpr[d->index & 15] * d->scale;
	return d->addr_size == 8 ? ea : ea & (~0ull >> (64 - 8 * d->addr_size));
}

static uint64_t bytes_mask(unsigned n)
{
	return n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;
}

uint64_t hv_insn_store_value(const struct hv_insn *d, uint64_t reg)
{
	uint64_t v = d->reg == HV_INSN_NO_REG ? d->imm : reg;

	if (d->high8)
		v >>= 8;
	return v & bytes_mask(d->size);
}

uint64_t hv_insn_load(const struct hv_insn *d, uint64_t old, uint64_t v)
{
	v &= bytes_mask(d->size);
	if (d->ext == HV_INSN_EXT_SIGN && (v >> (8 * d->size - 1) & 1))
		v |= ~bytes_mask(d->size);
	v &= bytes_mask(d->reg_size);
	if (d->reg_size == 1)
		return d->high8 ? (old & ~0xff00ull) | v << 8 : (old & ~0xffull) | v;
	if (d->reg_size == 2)
		return (old & ~0xffffull) | v;
	return v;	/* 32 bits zero-extend; 64 */
}

/* ---- the guest page walk (SDM Vol. 3A ch. 4) ---- */

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_PS (1ull << 7)
#define PTE_XD (1ull << 63)
#define CR0_PG (1ull << 31)
#define CR0_WP (1ull << 16)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define CR4_SMEP (1ull << 20)
#define EFER_NXE (1ull << 11)
#define EFER_LMA (1ull << 10)

/* #PF error code bits (SDM 4.7). */
#define PF_P 1u
#define PF_W 2u
#define PF_U 4u
#define PF_RSVD 8u
#define PF_I 16u

static uint32_t pf_code(const struct hv_walk_regs *r, unsigned access, uint32_t bits)
{
	return bits | ((access & HV_WALK_WRITE) ? PF_W : 0) | (r->cpl == 3 ? PF_U : 0) |
	       ((access & HV_WALK_FETCH) && (((r->efer & EFER_NXE) && (r->cr4 & CR4_PAE)) || (r->cr4 & CR4_SMEP)) ?
			PF_I : 0);
}

enum hv_walk_status hv_walk(const struct hv_walk_regs *r, uint64_t lin, unsigned access, hv_walk_read read,
			    void *ctx, uint64_t *gpa, uint32_t *pf_error)
{
	uint64_t rsvd_hi = r->maxphyaddr >= 52 ? 0 : (~0ull << r->maxphyaddr) & ((1ull << 52) - 1);
	uint64_t e = 0, table, page_mask;
	bool user = true, writable = true, xd = false, pae = (r->cr4 & CR4_PAE) != 0;
	int level;

	if (!(r->cr0 & CR0_PG)) {
		*gpa = lin;	/* paging off: physical = linear */
		return HV_WALK_OK;
	}
	if (!pae) {
		/* 32-bit paging (SDM 4.3): 4-byte entries, 10 + 10 + 12 bits. */
		uint64_t pde, pte;

		lin &= 0xffffffffull;
		if (read(ctx, (r->cr3 & 0xfffff000ull) + (lin >> 22) * 4, &pde)) {
			*gpa = (r->cr3 & 0xfffff000ull) + (lin >> 22) * 4;
			return HV_WALK_NO_MEMORY;
		}
		pde &= 0xffffffffull;
		if (!(pde & PTE_P))
			goto not_present;
		user = (pde & PTE_US) != 0;
		writable = (pde & PTE_RW) != 0;
		if ((pde & PTE_PS) && (r->cr4 & CR4_PSE)) {
			/* 4 MiB page; bits 20:13 are address bits 39:32 (PSE-36). */
			uint64_t pa = (pde & 0xffc00000ull) | ((pde >> 13) & 0xff) << 32;

			if ((pde & (1ull << 21)) || (pa & rsvd_hi))
				goto reserved;
			*gpa = pa | (lin & 0x3fffff);
			goto check;
		}
		if (read(ctx, (pde & 0xfffff000ull) + (lin >> 12 & 0x3ff) * 4, &pte)) {
			*gpa = (pde & 0xfffff000ull) + (lin >> 12 & 0x3ff) * 4;
			return HV_WALK_NO_MEMORY;
		}
		pte &= 0xffffffffull;
		if (!(pte & PTE_P))
			goto not_present;
		user = user && (pte & PTE_US);
		writable = writable && (pte & PTE_RW);
		*gpa = (pte & 0xfffff000ull) | (lin & 0xfff);
		goto check;
	}
	if (r->efer & EFER_LMA) {
		level = (r->cr4 & CR4_LA57) ? 5 : 4;
		table = r->cr3 & 0x000ffffffffff000ull;
	} else {
		/* PAE paging (SDM 4.4): the PDPTE the processor holds. */
		lin &= 0xffffffffull;
		e = r->pdpte[lin >> 30];
		if (!(e & PTE_P))
			goto not_present;
		if ((e & rsvd_hi) || (e & 0x1e6ull) || (e & PTE_XD))	/* SDM Table 4-8 */
			goto reserved;
		table = e & 0x000ffffffffff000ull;
		level = 2;
	}
	for (; level >= 1; level--) {
		uint64_t at = table + (lin >> (12 + 9 * (level - 1)) & 511) * 8;

		if (read(ctx, at, &e)) {
			*gpa = at;
			return HV_WALK_NO_MEMORY;
		}
		if (!(e & PTE_P))
			goto not_present;
		if ((e & rsvd_hi) || (!(r->efer & EFER_NXE) && (e & PTE_XD)))
			goto reserved;
		user = user && (e & PTE_US);
		writable = writable && (e & PTE_RW);
		xd = xd || (e & PTE_XD);
		if (level >= 4 && (e & PTE_PS))
			goto reserved;	/* PS is reserved in PML5E/PML4E (SDM 4.5.4) */
		if (level == 1 || ((level == 2 || level == 3) && (e & PTE_PS)))
			break;
		table = e & 0x000ffffffffff000ull;
	}
	page_mask = (1ull << (12 + 9 * (level - 1))) - 1;
	if (level > 1 && (e & ((page_mask & ~0xfffull) & ~(1ull << 12))))
		goto reserved;	/* a large page's address bits below its size, PAT bit 12 aside */
	*gpa = (e & 0x000ffffffffff000ull & ~page_mask) | (lin & page_mask);
check:
	/* Access rights (SDM 4.6). */
	if (r->cpl == 3 && !user)
		goto denied;
	if ((access & HV_WALK_FETCH) && ((xd && (r->efer & EFER_NXE)) ||
					  (r->cpl < 3 && user && (r->cr4 & CR4_SMEP))))
		goto denied;
	if ((access & HV_WALK_WRITE) && !writable && (r->cpl == 3 || (r->cr0 & CR0_WP)))
		goto denied;
	return HV_WALK_OK;
not_present:
	*pf_error = pf_code(r, access, 0);
	return HV_WALK_PAGE_FAULT;
reserved:
	*pf_error = pf_code(r, access, PF_P | PF_RSVD);
	return HV_WALK_PAGE_FAULT;
denied:
	*pf_error = pf_code(r, access, PF_P);
	return HV_WALK_PAGE_FAULT;
}
