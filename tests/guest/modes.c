/* Processor modes across the boot path.
 *
 * The 32-bit entry recorded the state the multiboot loader handed over
 * (multiboot 0.6.96 section 3.2: CR0.PE = 1, CR0.PG = 0, EFLAGS.VM = 0,
 * EFLAGS.IF = 0, EAX = 0x2BADB002) and, because this test defines
 * boot32_probe_exceptions, took one #DE through a 32-bit interrupt gate.
 * In 64-bit mode the test checks IA-32e mode is active (SDM Vol. 3A
 * 10.8.5: EFER.LME/LMA, CR0.PG, CR4.PAE, CS.L = 1) and makes a round trip
 * through compatibility mode, where the same bytes decode differently. */
#include "guest.h"

const uint8_t boot32_probe_exceptions = 1;

static void test_entry_state(uint32_t magic)
{
	uint32_t cr0 = boot32_state[B32_CR0], eflags = boot32_state[B32_EFLAGS];
	uint64_t efer = (uint64_t)boot32_state[B32_EFER_HI] << 32 | boot32_state[B32_EFER_LO];

	report(boot32_state[B32_EAX] == MULTIBOOT_BOOTLOADER_MAGIC && magic == boot32_state[B32_EAX],
	       "entry: EAX = 0x%x", boot32_state[B32_EAX]);
	report((cr0 & X86_CR0_PE) && !(cr0 & X86_CR0_PG), "entry: CR0 0x%x has PE = 1, PG = 0", cr0);
	report(!(eflags & X86_RFLAGS_IF), "entry: EFLAGS 0x%x has IF = 0", eflags);
	report(!(eflags & X86_RFLAGS_VM), "entry: EFLAGS.VM = 0");
	report(eflags & 2, "entry: EFLAGS bit 1 reads as 1");
	report(!(efer & EFER_LMA), "entry: EFER 0x%lx has LMA = 0 (not in IA-32e mode)",
	       (unsigned long)efer);
}

static void test_prot32_exception(void)
{
	uint32_t before = boot32_state[B32_DE_ESP_BEFORE], in = boot32_state[B32_DE_ESP_HANDLER];

	report(boot32_state[B32_DE_COUNT] == 1, "32-bit #DE delivered once through the 32-bit IDT");
	report(boot32_state[B32_DE_EIP] == (uint32_t)(uintptr_t)de32_insn,
	       "32-bit #DE: pushed EIP 0x%x is the DIV (0x%x)", boot32_state[B32_DE_EIP],
	       (uint32_t)(uintptr_t)de32_insn);
	report((boot32_state[B32_DE_CS] & 0xffff) == GUEST_CS32, "32-bit #DE: pushed CS 0x%x",
	       boot32_state[B32_DE_CS]);
	/* Same privilege level, no error code: EFLAGS, CS, EIP = 12 bytes
	 * (SDM Vol. 3A 6.12.1, figure 6-4). */
	report(before - in == 12, "32-bit #DE: frame is 12 bytes (ESP %x -> %x)", before, in);
	report(!(boot32_state[B32_DE_EFLAGS] & X86_RFLAGS_IF) && (boot32_state[B32_DE_EFLAGS] & 2),
	       "32-bit #DE: pushed EFLAGS 0x%x", boot32_state[B32_DE_EFLAGS]);
}

static void test_long_mode(void)
{
	uint64_t efer = rdmsr(MSR_EFER), cr0 = read_cr0(), cr4 = read_cr4(), ar = 0;
	uint16_t cs, ss;
	uint8_t ok;

	report((efer & EFER_LME) && (efer & EFER_LMA), "64-bit: EFER 0x%lx has LME and LMA",
	       (unsigned long)efer);
	report((cr0 & X86_CR0_PG) && (cr0 & X86_CR0_PE), "64-bit: CR0 0x%lx has PG and PE",
	       (unsigned long)cr0);
	report(cr4 & X86_CR4_PAE, "64-bit: CR4 0x%lx has PAE", (unsigned long)cr4);
	report((read_cr3() & ~0xfffull) == (uintptr_t)guest_pml4, "64-bit: CR3 points at the PML4");
	asm("movw %%cs, %0\n\tmovw %%ss, %1" : "=r"(cs), "=r"(ss));
	report(cs == GUEST_CS64 && ss == GUEST_DS, "64-bit: CS 0x%x SS 0x%x", cs, ss);
	/* LAR returns the descriptor's attribute bits: L is bit 21, D/B
	 * bit 22 (SDM Vol. 2A, LAR; Vol. 3A 3.4.5). */
	asm("larq %2, %0\n\tsetz %1" : "=r"(ar), "=q"(ok) : "r"((uint64_t)cs) : "cc");
	report(ok && (ar & (1u << 21)) && !(ar & (1u << 22)), "64-bit: CS.L = 1, CS.D = 0 (0x%lx)",
	       (unsigned long)ar);
	asm("larq %2, %0\n\tsetz %1" : "=r"(ar), "=q"(ok) : "r"((uint64_t)GUEST_CS32) : "cc");
	report(ok && !(ar & (1u << 21)) && (ar & (1u << 22)), "32-bit code segment: L = 0, D = 1");
	asm("larq %2, %0\n\tsetz %1" : "=r"(ar), "=q"(ok) : "r"(0xff8ull) : "cc");
	report(!ok, "LAR of a selector beyond the GDT limit clears ZF");
}

/* The byte 0x48 is REX.W in 64-bit mode and DEC EAX in compatibility
 * mode (SDM Vol. 2A 2.2.1): "mov $5, %eax; .byte 0x48; mov %eax, %ecx"
 * leaves 4 in ECX only if the CPU really ran it as 32-bit code.  The far
 * return loads CS with the 32-bit selector; the far jump returns. */
static uint32_t compat_probe(uint32_t *mode64)
{
	uint64_t r, r64;

	asm volatile("pushq $%c[cs32]\n\t"
		     "leaq 1f(%%rip), %%rax\n\t"
		     "pushq %%rax\n\t"
		     "lretq\n\t"
		     ".code32\n"
		     "1:\tmovl $5, %%eax\n\t"
		     ".byte 0x48\n\t"
		     "movl %%eax, %%ecx\n\t"
		     "ljmp $%c[cs64], $2f\n\t"
		     ".code64\n"
		     "2:\tmovl %%esp, %%esp\n\t"	/* upper halves are undefined after the switch */
		     "movl $5, %%eax\n\t"
		     ".byte 0x48\n\t"
		     "movl %%eax, %%edx\n\t"
		     : "=c"(r), "=d"(r64)
		     : [cs32] "i"(GUEST_CS32), [cs64] "i"(GUEST_CS64)
		     : "rax", "rbx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
		       "r15", "memory", "cc");
	*mode64 = (uint32_t)r64;
	return (uint32_t)r;
}

static void test_compat_mode(void)
{
	uint32_t m64, m32 = compat_probe(&m64);
	uint16_t cs;

	report(m32 == 4, "compatibility mode decodes 0x48 as DEC EAX (got %u)", m32);
	report(m64 == 5, "64-bit mode decodes 0x48 as REX.W (got %u)", m64);
	asm("movw %%cs, %0" : "=r"(cs));
	report(cs == GUEST_CS64, "back in 64-bit mode with CS 0x%x", cs);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	test_entry_state(magic);
	test_prot32_exception();
	test_long_mode();
	test_compat_mode();
}
