/* The hypervisor's identity map, and each LP's GDT, TSS and IDT.  The
 * boot handoff's tables live in the boot area, which becomes the root
 * partition's, so the hypervisor builds its own before anything else. */
#include "hv.h"
#include "rt.h"

/* SDM Vol. 3A 4.5 (tables 4-14 to 4-18). */
#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)
#define GIB (1ull << 30)
#define M2 (2ull << 20)

/* 64-bit TSS (SDM Vol. 3A 8.7): RSP0-2, IST1-7, I/O map base. */
struct hv_tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

struct hv_lp_tables {
	uint64_t gdt[5];	/* null, code, data, TSS (two slots) */
	struct hv_tss tss;
	uint8_t fault_stack[4096] __attribute__((aligned(16)));
};

static struct hv_lp_tables lp_tables[HV_MAX_LPS] __attribute__((aligned(64)));

struct hv_gate {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, reserved;
} __attribute__((packed));

static struct hv_gate idt[256] __attribute__((aligned(16)));
extern const uint64_t hv_fault_stubs[32];	/* idt.S */
extern const uint8_t hv_kick_stub[], hv_spurious_stub[];	/* idt.S */

static struct hv_gate gate(uint64_t off, uint8_t ist)
{
	return (struct hv_gate){ (uint16_t)off, HV_SEL_CODE, ist, 0x8e, (uint16_t)(off >> 16), (uint32_t)(off >> 32),
				 0 };
}

int hv_paging_init(uint64_t top)
{
	uint64_t ngib = (top < 4 * GIB ? 4 * GIB : top + GIB - 1) / GIB;
	uint64_t pml4 = hv_pool_get(&hv_pool);

	if (!pml4 || ngib > 512 * 512)
		return -1;
	for (uint64_t g = 0; g < ngib; g++) {
		uint64_t *l4 = hv_va(pml4), *pdpt, *pd;

		if (!l4[g / 512]) {
			uint64_t pa = hv_pool_get(&hv_pool);

			if (!pa)
				return -1;
			l4[g / 512] = pa | PTE_P | PTE_RW;
		}
		pdpt = hv_va(l4[g / 512] & HV_PAGE_MASK);
		pd = hv_va(hv_pool_get(&hv_pool));
		if (!pd)
			return -1;
		pdpt[g % 512] = hv_pa(pd) | PTE_P | PTE_RW;
		for (uint64_t i = 0; i < 512; i++)
			pd[i] = (g * GIB + i * M2) | PTE_P | PTE_RW | PTE_PS;
	}
	write_cr3(pml4);
	return 0;
}

int hv_cpu_tables_init(unsigned lp)
{
	struct hv_lp_tables *t = &lp_tables[lp];
	uint64_t tss = hv_pa(&t->tss), lim = sizeof(t->tss) - 1;
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gdtr = { sizeof(t->gdt) - 1, hv_pa(t->gdt) },
				  idtr = { sizeof(idt) - 1, hv_pa(idt) };

	if (lp >= HV_MAX_LPS)
		return -1;
	t->gdt[0] = 0;
	t->gdt[1] = 0x00af9a000000ffffull;	/* 0x08: 64-bit code, DPL 0 */
	t->gdt[2] = 0x00cf92000000ffffull;	/* 0x10: flat data */
	/* 0x18: available 64-bit TSS, 16 bytes (SDM Vol. 3A 8.2.3) */
	t->gdt[3] = (lim & 0xffff) | ((tss & 0xffffff) << 16) | (0x89ull << 40) | (((lim >> 16) & 0xf) << 48) |
		    (((tss >> 24) & 0xff) << 56);
	t->gdt[4] = tss >> 32;
	t->tss.ist[0] = hv_pa(t->fault_stack + sizeof(t->fault_stack));
	t->tss.iomap_base = sizeof(t->tss);
	/* Exceptions on IST1; the two interrupt vectors (hv.h) on the
	 * stack in use; the rest are absent: a fault. */
	for (unsigned v = 0; v < 32; v++)
		idt[v] = gate(hv_fault_stubs[v], 1);
	idt[HV_KICK_VECTOR] = gate(hv_pa(hv_kick_stub), 0);
	idt[HV_SPURIOUS_VECTOR] = gate(hv_pa(hv_spurious_stub), 0);
	asm volatile("lgdt %0\n\t"
		     "pushq %1\n\t"
		     "leaq 1f(%%rip), %%rax\n\t"
		     "pushq %%rax\n\t"
		     "lretq\n"
		     "1:\tmov %2, %%ds\n\t"
		     "mov %2, %%es\n\t"
		     "mov %2, %%ss\n\t"
		     "ltr %w3\n\t"
		     "lidt %4"
		     : : "m"(gdtr), "i"(HV_SEL_CODE), "r"(HV_SEL_DATA), "r"(HV_SEL_TSS), "m"(idtr) : "rax", "memory");
	return 0;
}

uint64_t hv_gdt_base(unsigned lp)
{
	return hv_pa(lp_tables[lp].gdt);
}

uint64_t hv_tss_base(unsigned lp)
{
	return hv_pa(&lp_tables[lp].tss);
}

uint64_t hv_idt_base(void)
{
	return hv_pa(idt);
}

/* Called by the stubs in idt.S: a fault in the hypervisor is fatal. */
struct hv_fault_frame {
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

__attribute__((noreturn)) void hv_fault(const struct hv_fault_frame *f);

void hv_fault(const struct hv_fault_frame *f)
{
	rt_printf("hv: FATAL: exception %lu (error 0x%lx) at rip 0x%lx, rsp 0x%lx, cr2 0x%lx\n",
		  (unsigned long)f->vector, (unsigned long)f->error, (unsigned long)f->rip, (unsigned long)f->rsp,
		  (unsigned long)read_cr2());
	rt_exit(3);
}
