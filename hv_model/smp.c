/* Bringing up the application processors (SDM Vol. 3 8.4.4 "MP
 * Initialization Example"): the BSP wakes each AP in turn with
 * INIT-SIPI-SIPI through its local APIC; the AP comes through the
 * trampoline (smp.S) into hv_ap_main(), loads its own GDT, TSS and IDT
 * and enters VMX operation.  One AP at a time: the pool allocator that
 * VMXON's region comes from is not safe against two LPs at once.
 *
 * Then each AP waits until the BSP has created the root partition and
 * runs VPs like the BSP (hv_run; docs/hypervisor.md "Scheduling"). */
#include <hv/bootinfo.h>

#include "hv.h"
#include "rt.h"

#define HV_AP_TRAMPOLINE 0x8000ul	/* SIPI vector 0x08; smp.S assumes it */
#define HV_AP_STACK 16384	/* smp.S assumes it */
#define LAPIC_ICR_LO 0xFEE00300ul
#define LAPIC_ICR_HI 0xFEE00310ul
#define ICR_INIT_ASSERT 0x4500u		/* INIT, level assert, physical */
#define ICR_STARTUP 0x4600u		/* start-up, physical */
#define ICR_BUSY (1u << 12)

extern const uint8_t hv_ap_tramp_start[], hv_ap_tramp_end[];
extern const uint64_t hv_ap_tramp_cr3, hv_ap_tramp_stacks, hv_ap_tramp_entry;

static uint8_t ap_stacks[HV_MAX_LPS][HV_AP_STACK] __attribute__((aligned(16)));
static volatile uint32_t ap_online[HV_MAX_LPS];
static volatile uint32_t go;

__attribute__((noreturn)) void hv_ap_main(unsigned lp);

void hv_ap_main(unsigned lp)
{
	if (lp >= HV_MAX_LPS || hv_cpu_tables_init(lp) || hv_vmx_on(lp) || hv_lp_init(lp)) {
		ap_online[lp < HV_MAX_LPS ? lp : 0] = 2;
		for (;;)
			asm volatile("cli; hlt");
	}
	ap_online[lp] = 1;
	while (!go)
		cpu_pause();
	hv_run(lp);
}

void hv_smp_go(void)
{
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
}

static void icr_send(unsigned apic_id, uint32_t lo)
{
	volatile uint32_t *hi = (volatile uint32_t *)LAPIC_ICR_HI, *icr = (volatile uint32_t *)LAPIC_ICR_LO;

	*hi = apic_id << 24;
	*icr = lo;
	while (*icr & ICR_BUSY)
		cpu_pause();
}

/* The trampoline's copy's data word at the offset `w` has in smp.S. */
static uint64_t *tramp_word(const uint64_t *w)
{
	return (uint64_t *)(HV_AP_TRAMPOLINE + ((const uint8_t *)w - hv_ap_tramp_start));
}

int hv_smp_start(const struct hv_bootinfo *bi)
{
	uint64_t cr3 = read_cr3(), wait = bi->tsc_khz * 100;	/* 100 ms per AP */
	unsigned up = 1;

	if (bi->lp_count < 2)
		return 0;
	if (bi->lp_count > HV_MAX_LPS || cr3 >> 32) {
		rt_printf("hv: cannot start %u LPs (at most %u; page tables below 4 GiB)\n", bi->lp_count,
			  HV_MAX_LPS);
		return -1;
	}
	memcpy((void *)HV_AP_TRAMPOLINE, hv_ap_tramp_start, (size_t)(hv_ap_tramp_end - hv_ap_tramp_start));
	*tramp_word(&hv_ap_tramp_cr3) = cr3;
	*tramp_word(&hv_ap_tramp_stacks) = (uint64_t)(uintptr_t)&ap_stacks[0][HV_AP_STACK];
	*tramp_word(&hv_ap_tramp_entry) = (uint64_t)(uintptr_t)hv_ap_main;
	for (unsigned lp = 1; lp < bi->lp_count; lp++) {
		uint64_t t0;

		/* SDM 8.4.4.1: INIT, then two SIPIs (the second is ignored by
		 * a processor the first started). */
		icr_send(lp, ICR_INIT_ASSERT);
		icr_send(lp, ICR_STARTUP | (HV_AP_TRAMPOLINE >> 12));
		icr_send(lp, ICR_STARTUP | (HV_AP_TRAMPOLINE >> 12));
		t0 = rdtsc();
		while (!ap_online[lp] && rdtsc() - t0 < wait)
			cpu_pause();
		if (ap_online[lp] != 1) {
			rt_printf("hv: LP%u did not come up (%u)\n", lp, ap_online[lp]);
			return -1;
		}
		up++;
	}
	hv_lp_count = up;
	rt_printf("hv: %u LPs up, VMX on on each\n", up);
	return 0;
}
