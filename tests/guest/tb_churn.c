/* Code rewritten and run again, many times: each round patches the
 * immediate of a block of 1000 stores and calls it, so the engine drops
 * the block's translation (self-modifying code, SDM Vol. 3 8.1.3) and
 * translates it anew.  Translations are never reused, so the engine's
 * code buffer fills up several times over (sim/cpu/cpu.c
 * cpu_engine_open: 16 MiB of host code); every round must see its own
 * immediate stored.  With Unicorn 2.1.1's first fill not flushed, the
 * host died of SIGBUS here. */
#include "guest.h"

#define STORES 1000
#define ROUNDS 1500

/* mov $imm, %al; STORES x mov %al, (%rbx); ret */
static uint8_t code[4096] __attribute__((aligned(4096)));
static volatile uint8_t target __attribute__((aligned(4096)));

void test_main(uint32_t magic, struct multiboot_info *info)
{
	unsigned bad = 0, first_bad = 0;

	(void)magic;
	(void)info;
	code[0] = 0xb0;
	for (unsigned i = 0; i < STORES; i++) {
		code[2 + 2 * i] = 0x88;
		code[3 + 2 * i] = 0x03;
	}
	code[2 + 2 * STORES] = 0xc3;
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint8_t v = (uint8_t)(r * 7 + 1);

		code[1] = v;
		asm volatile("call *%0" : : "r"(code), "b"(&target) : "rax", "memory");
		if (target != v && !bad++)
			first_bad = r;
	}
	report(bad == 0, "%u rounds of rewritten code each stored its own value (%u wrong, first in round %u)",
	       ROUNDS, bad, first_bad);
}
