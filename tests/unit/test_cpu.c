/* The CPU model alone: tiny machine-code programs on one LP. */
#include <criterion/criterion.h>
#include <string.h>

#include "cpu.h"
#include "memmap.h"
#include "profile.h"

#define CODE 0x100000ull
#define HANDLER 0x200000ull
#define PML4 0x2000ull
#define GDT 0x5000ull
#define STACK 0x80000ull
#define REAL_CODE 0x1000ull	/* real mode: CS:IP = 0100:0000 */
#define REAL_STACK 0x8000ull

/* Distinct costs per class so each shows in a cycle count. */
static const char profile_yaml[] =
	"name: test\n"
	"frequency_khz: 1000000\n"
	"costs: {alu: 1, mul: 3, div: 20, load: 4, store: 5, branch: 2, call: 6, ret: 7, stack: 8,\n"
	"        string: 9, fp: 10, simd: 11, serial: 100, msr: 50, tsc: 30, io: 40, int: 60, nop: 1,\n"
	"        pause: 12, hlt: 13, other: 14}\n"
	"cpuid:\n"
	"  - {leaf: 0, eax: 1, ebx: 0x756E6547, ecx: 0x6C65746E, edx: 0x49656E69}\n"
	"  - {leaf: 1, eax: 0x206A7, ebx: 0x800, ecx: 0, edx: 0x10}\n"
	"msrs:\n"
	"  - {index: 0x10, name: IA32_TSC, reset: 0, write_mask: 0xFFFFFFFFFFFFFFFF}\n"
	"  - {index: 0x1B, name: IA32_APIC_BASE, reset: 0xFEE00900, write_mask: 0xFFFFFF800}\n"
	"  - {index: 0xFE, name: IA32_MTRRCAP, reset: 0x508, read_only: true}\n"
	"  - {index: 0xC0000080, name: IA32_EFER, reset: 0, write_mask: 0xD01}\n";

static struct memmap *mem;
static struct cpu_profile *prof;
static struct cpu *cpu;

static void put64(uint64_t pa, uint64_t v)
{
	cr_assert_eq(memmap_write_phys(mem, pa, &v, 8), 0);
}

/* Long mode with 1 GiB identity-mapped (2 MiB pages), a flat GDT and an
 * IDT at physical 0 (limit 0x3ff: vectors 0-63); in real mode that is the
 * IVT and the code sits at REAL_CODE. */
static void boot(enum boot_mode mode, const uint8_t *code, size_t n)
{
	struct cpu_config cc = { 0 };
	struct boot_entry e = { 0 };

	mem = memmap_new(16u << 20);
	cr_assert_not_null(mem);
	cr_assert_eq(profile_load_string(profile_yaml, sizeof(profile_yaml) - 1, "test", &prof), 0);
	put64(PML4, (PML4 + 0x1000) | 3);
	put64(PML4 + 0x1000, (PML4 + 0x2000) | 3);
	for (uint64_t i = 0; i < 512; i++)
		put64(PML4 + 0x2000 + i * 8, (i << 21) | 0x83);
	put64(GDT + 8, mode == BOOT_MODE_LONG64 ? 0x00af9b000000ffffull : 0x00cf9b000000ffffull);
	put64(GDT + 16, 0x00cf93000000ffffull);
	cr_assert_eq(memmap_write_phys(mem, mode == BOOT_MODE_REAL16 ? REAL_CODE : CODE, code, n), 0);
	cc.profile = prof;
	cc.mem = mem;
	cc.nlps = 1;
	cc.bsp = 1;
	cpu = cpu_new(&cc);
	cr_assert_not_null(cpu);
	e.mode = mode;
	e.rip = mode == BOOT_MODE_REAL16 ? REAL_CODE : CODE;
	e.rsp = mode == BOOT_MODE_REAL16 ? REAL_STACK : STACK;
	e.cr3 = PML4;
	e.gdt_base = GDT;
	e.gdt_limit = 23;
	cr_assert_eq(cpu_boot(cpu, &e), 0);
}

static void gate(unsigned vec, uint64_t handler)
{
	/* 64-bit interrupt gate, selector 0x08, DPL 0, present (SDM 6.14.1). */
	put64(vec * 16, (handler & 0xffff) | (0x08ull << 16) | (0x8e00ull << 32) | ((handler >> 16 & 0xffff) << 48));
	put64(vec * 16 + 8, handler >> 32);
}

static void handler(const uint8_t *code, size_t n)
{
	cr_assert_eq(memmap_write_phys(mem, HANDLER, code, n), 0);
}

static void teardown(void)
{
	cpu_free(cpu);
	profile_free(prof);
	memmap_free(mem);
	cpu = NULL;
	prof = NULL;
	mem = NULL;
}

static enum cpu_run_state run_to_end(void)
{
	return cpu_run(cpu, ~0ull >> 1);
}

TestSuite(cpu, .fini = teardown);

/* A loop whose blocks store to memory and end in conditional branches. */
static const uint8_t branchy[] = {
	0x31, 0xc0,			/* 0:  xor eax, eax */
	0xb9, 0xe8, 0x03, 0x00, 0x00,	/* 2:  mov ecx, 1000 */
	0x89, 0x4c, 0x24, 0xf8,		/* 7:  mov [rsp-8], ecx */
	0xf7, 0xc1, 0x01, 0, 0, 0,	/* 11: test ecx, 1 */
	0x74, 0x04,			/* 17: jz 23 */
	0x01, 0xc8,			/* 19: add eax, ecx */
	0xeb, 0x03,			/* 21: jmp 26 */
	0x83, 0xe8, 0x03,		/* 23: sub eax, 3 */
	0xff, 0xc9,			/* 26: dec ecx */
	0x75, 0xe9,			/* 28: jnz 7 */
	0xf4,				/* 30: hlt */
};

Test(cpu, stops_at_any_cycle_resume_at_the_right_instruction)
{
	/* Unicorn 2.1.1 leaves the PC of the previous block (synced there for
	 * its memory access) when a block hook stops the next block; stopping
	 * every few cycles must not change what the program computes. */
	struct cpu_regs r;
	uint64_t step = 0, insns;

	boot(BOOT_MODE_LONG64, branchy, sizeof(branchy));
	cr_assert_eq(run_to_end(), CPU_HALTED);
	cpu_get_regs(cpu, &r);
	cr_assert_eq(r.rax, 248500);
	insns = cpu_get_stats(cpu)->instructions;
	teardown();

	boot(BOOT_MODE_LONG64, branchy, sizeof(branchy));
	while (cpu_run(cpu, cpu_cycles(cpu) + 1 + step++ % 7) == CPU_RUNNING)
		;
	cr_assert_eq(cpu_state(cpu), CPU_HALTED);
	cpu_get_regs(cpu, &r);
	cr_assert_eq(r.rax, 248500);
	cr_assert_eq(cpu_get_stats(cpu)->instructions, insns);
}

/* The shape of the loop in which the stale PC was first seen: a memory
 * read with a 32-bit displacement, a conditional exit and a back edge. */
static const uint8_t memloop[] = {
	0x31, 0xc9,				/* 0:  xor ecx, ecx */
	0x31, 0xc0,				/* 2:  xor eax, eax */
	0x8d, 0x52, 0x01,			/* 4:  lea edx, [rdx+1] */
	0x8d, 0x51, 0x01,			/* 7:  lea edx, [rcx+1] */
	0x48, 0x83, 0xc1, 0x01,			/* a:  add rcx, 1 */
	0x0f, 0xaf, 0xd2,			/* e:  imul edx, edx */
	0x81, 0xfa, 0x9f, 0x86, 0x01, 0x00,	/* 11: cmp edx, 99999 */
	0x77, 0x0f,				/* 17: ja 28 */
	0x80, 0xb9, 0x00, 0x00, 0x30, 0x00, 0x00, /* 19: cmp byte [rcx+0x300000], 0 */
	0x89, 0xca,				/* 20: mov edx, ecx */
	0x74, 0xe0,				/* 22: je 4 */
	0x01, 0xd0,				/* 24: add eax, edx */
	0xeb, 0xdc,				/* 26: jmp 4 */
	0xf4,					/* 28: hlt */
};

static void fill_memloop_data(void)
{
	for (uint64_t i = 0; i < 1024; i++) {
		uint8_t v = i % 3 != 0;

		memmap_write_phys(mem, 0x300000 + i, &v, 1);
	}
}

Test(cpu, stops_in_a_memory_reading_loop_resume_at_the_right_instruction)
{
	struct cpu_regs a, b;
	uint64_t step = 0;

	boot(BOOT_MODE_LONG64, memloop, sizeof(memloop));
	fill_memloop_data();
	cr_assert_eq(run_to_end(), CPU_HALTED);
	cpu_get_regs(cpu, &a);
	teardown();

	boot(BOOT_MODE_LONG64, memloop, sizeof(memloop));
	fill_memloop_data();
	while (cpu_run(cpu, cpu_cycles(cpu) + 1 + step++ % 5) == CPU_RUNNING)
		;
	cr_assert_eq(cpu_state(cpu), CPU_HALTED);
	cpu_get_regs(cpu, &b);
	cr_assert_eq(b.rax, a.rax, "sum %llu, unstopped run %llu", (unsigned long long)b.rax,
		     (unsigned long long)a.rax);
	cr_assert_eq(b.rcx, a.rcx);
	cr_assert_eq(a.rcx, 317, "the loop ends when (rcx)^2 > 99999");
}

Test(cpu, rdtsc_counts_the_cycles_of_earlier_instructions_only)
{
	static const uint8_t code[] = {
		0x0f, 0x31,		/* rdtsc          tsc 30 */
		0x41, 0x89, 0xc0,	/* mov r8d, eax   alu 1 */
		0x83, 0xc3, 0x01,	/* add ebx, 1     alu 1 */
		0xeb, 0x00,		/* jmp next       branch 2 (ends the block) */
		0x83, 0xc3, 0x01,	/* add ebx, 1     alu 1 */
		0x0f, 0x31,		/* rdtsc */
		0x44, 0x29, 0xc0,	/* sub eax, r8d */
		0xf4,			/* hlt */
	};
	struct cpu_regs r;

	boot(BOOT_MODE_LONG64, code, sizeof(code));
	cr_assert_eq(run_to_end(), CPU_HALTED);
	cpu_get_regs(cpu, &r);
	cr_assert_eq(r.rax, 30 + 1 + 1 + 2 + 1, "delta %llu", (unsigned long long)r.rax);
}

Test(cpu, wrmsr_to_tsc_sets_what_rdtsc_reads)
{
	static const uint8_t code[] = {
		0xb9, 0x10, 0, 0, 0,		/* mov ecx, 0x10 */
		0x31, 0xd2,			/* xor edx, edx */
		0xb8, 0x00, 0x10, 0, 0,		/* mov eax, 0x1000 */
		0x0f, 0x30,			/* wrmsr          msr 50 */
		0x0f, 0x31,			/* rdtsc */
		0xf4,
	};
	struct cpu_regs r;

	boot(BOOT_MODE_LONG64, code, sizeof(code));
	cr_assert_eq(run_to_end(), CPU_HALTED);
	cpu_get_regs(cpu, &r);
	cr_assert_eq(r.rax, 0x1000 + 50, "tsc %llu", (unsigned long long)r.rax);
}

static const uint8_t gp_handler[] = {
	0x4c, 0x8b, 0x0c, 0x24,		/* mov r9, [rsp]      error code */
	0x4c, 0x8b, 0x54, 0x24, 0x08,	/* mov r10, [rsp+8]   faulting RIP */
	0xf4,				/* hlt */
};

Test(cpu, unknown_msr_raises_gp_through_the_idt)
{
	static const uint8_t code[] = {
		0xb9, 0x45, 0x23, 0x01, 0x00,	/* mov ecx, 0x12345 */
		0x0f, 0x32,			/* rdmsr */
		0xf4,
	};
	struct cpu_regs r;

	boot(BOOT_MODE_LONG64, code, sizeof(code));
	gate(13, HANDLER);
	handler(gp_handler, sizeof(gp_handler));
	cr_assert_eq(run_to_end(), CPU_HALTED);
	cpu_get_regs(cpu, &r);
	cr_assert_eq(r.r9, 0, "#GP error code");
	cr_assert_eq(r.r10, CODE + 5, "RIP of the RDMSR");
	cr_assert_eq(r.rip, HANDLER + sizeof(gp_handler));
}

Test(cpu, msr_reads_reset_values_and_read_only_writes_fault)
{
	static const uint8_t code[] = {
		0xb9, 0x1b, 0, 0, 0,		/* mov ecx, IA32_APIC_BASE */
		0x0f, 0x32,			/* rdmsr */
		0x41, 0x89, 0xc3,		/* mov r11d, eax */
		0xb9, 0xfe, 0, 0, 0,		/* mov ecx, IA32_MTRRCAP */
		0x0f, 0x32,			/* rdmsr (fine) */
		0x0f, 0x30,			/* wrmsr (read-only: #GP) */
		0xf4,
	};
	struct cpu_regs r;

	boot(BOOT_MODE_LONG64, code, sizeof(code));
	gate(13, HANDLER);
	handler(gp_handler, sizeof(gp_handler));
	cr_assert_eq(run_to_end(), CPU_HALTED);
	cpu_get_regs(cpu, &r);
	cr_assert_eq(r.r11, 0xfee00900);
	cr_assert_eq(r.rax, 0x508);
	cr_assert_eq(r.r10, CODE + 17, "#GP at the WRMSR");
}

Test(cpu, repeated_divide_errors_stay_divide_errors)
{
	static const uint8_t code[] = {
		0x31, 0xd2,			/* xor edx, edx */
		0xb8, 0x01, 0, 0, 0,		/* mov eax, 1 */
		0xf7, 0xf2,			/* div edx  -> #DE */
		0xf7, 0xf2,			/* div edx  -> #DE */
		0xf7, 0xf2,			/* div edx  -> #DE */
		0xf4,
	};
	static const uint8_t de[] = {
		0x48, 0x83, 0x04, 0x24, 0x02,	/* add qword [rsp], 2   skip the div */
		0x49, 0xff, 0xc3,		/* inc r11 */
		0x48, 0xcf,			/* iretq */
	};
	struct cpu_regs r;

	boot(BOOT_MODE_LONG64, code, sizeof(code));
	gate(0, HANDLER);
	gate(8, HANDLER + 0x100);	/* a #DF would halt here */
	handler(de, sizeof(de));
	cr_assert_eq(run_to_end(), CPU_HALTED);
	cpu_get_regs(cpu, &r);
	cr_assert_eq(r.r11, 3);
	cr_assert_eq(r.rip, CODE + sizeof(code));
	cr_assert_eq(cpu_get_stats(cpu)->exceptions, 3);
}

Test(cpu, page_fault_reports_cr2_and_error_code)
{
	static const uint8_t code[] = {
		0x48, 0xb8, 0, 0, 0, 0x40, 0, 0, 0, 0,	/* mov rax, 0x40000000 (not mapped) */
		0xc6, 0x00, 0x01,			/* mov byte [rax], 1 */
		0xf4,
	};
	static const uint8_t pf[] = {
		0x4c, 0x8b, 0x0c, 0x24,		/* mov r9, [rsp] */
		0x41, 0x0f, 0x20, 0xd2,		/* mov r10, cr2 */
		0xf4,
	};
	struct cpu_regs r;

	boot(BOOT_MODE_LONG64, code, sizeof(code));
	gate(14, HANDLER);
	handler(pf, sizeof(pf));
	cr_assert_eq(run_to_end(), CPU_HALTED, "%s", cpu_shutdown_reason(cpu));
	cpu_get_regs(cpu, &r);
	cr_assert_eq(r.r9, 0x2, "write to a not-present page (SDM 4.7)");
	cr_assert_eq(r.r10, 0x40000000);
}

Test(cpu, cpuid_answers_from_the_profile_with_the_apic_id)
{
	static const uint8_t code[] = {
		0xb8, 0x01, 0, 0, 0,	/* mov eax, 1 */
		0x0f, 0xa2,		/* cpuid */
		0xf4,
	};
	struct cpu_regs r;

	boot(BOOT_MODE_LONG64, code, sizeof(code));
	cr_assert_eq(run_to_end(), CPU_HALTED);
	cpu_get_regs(cpu, &r);
	cr_assert_eq(r.rax, 0x206a7);
	cr_assert_eq(r.rbx, 0x800 | (1u << 16), "CLFLUSH size, 1 LP, APIC id 0");
	cr_assert_eq(r.rdx, 0x10);
}

Test(cpu, multiboot_state_runs_32_bit_code)
{
	static const uint8_t code[] = {
		0xb8, 0x05, 0, 0, 0,	/* mov eax, 5 */
		0x48,			/* dec eax (a REX prefix in 64-bit code) */
		0xf4,
	};
	struct cpu_regs r;

	boot(BOOT_MODE_PROT32, code, sizeof(code));
	cr_assert_eq(run_to_end(), CPU_HALTED);
	cpu_get_regs(cpu, &r);
	cr_assert_eq((uint32_t)r.rax, 4);
	cr_assert_eq(r.cr0 & 0x80000001u, 1, "PE on, paging off");
}

Test(cpu, fault_without_a_handler_is_a_triple_fault)
{
	static const uint8_t code[] = { 0x0f, 0x0b };	/* ud2 */

	boot(BOOT_MODE_LONG64, code, sizeof(code));
	cr_assert_eq(run_to_end(), CPU_SHUTDOWN);
	cr_assert_not_null(strstr(cpu_shutdown_reason(cpu), "triple fault"));
}

Test(cpu, hlt_idles_and_the_clock_can_move_on)
{
	static const uint8_t code[] = { 0xf4 };

	boot(BOOT_MODE_LONG64, code, sizeof(code));
	cr_assert_eq(run_to_end(), CPU_HALTED);
	cr_assert_eq(cpu_cycles(cpu), 13, "the HLT instruction's own cost, got %llu",
		     (unsigned long long)cpu_cycles(cpu));
	cpu_idle_until(cpu, 1000);
	cr_assert_eq(cpu_cycles(cpu), 1000);
	cr_assert_eq(cpu_get_stats(cpu)->halted_cycles, 987);
}

Test(cpu, rdpmc_of_a_counter_the_profile_lacks_raises_gp)
{
	static const uint8_t code[] = {
		0xb9, 0x40, 0, 0, 0,	/* mov ecx, 64 */
		0x0f, 0x33,		/* rdpmc */
		0xf4,
	};
	struct cpu_regs r;

	boot(BOOT_MODE_LONG64, code, sizeof(code));
	gate(13, HANDLER);
	gate(6, HANDLER + 0x100);	/* #UD would halt elsewhere */
	handler(gp_handler, sizeof(gp_handler));
	cr_assert_eq(run_to_end(), CPU_HALTED);
	cpu_get_regs(cpu, &r);
	cr_assert_eq(r.rip, HANDLER + sizeof(gp_handler), "#GP, not #UD");
	cr_assert_eq(r.r10, CODE + 5);
}

Test(cpu, a_site_whose_code_changed_runs_the_new_instruction)
{
	/* Sites are found by linear address; code rewritten in place (here a
	 * 3-byte "rdtsc; ret" becomes a 3-byte "mov al, 42; ret") must run as
	 * the new instruction, not be emulated as the old one. */
	static const uint8_t code[] = {
		0xe8, 0x0f, 0, 0, 0,			/* 0:  call f */
		0xc7, 0x05, 0x05, 0, 0, 0,		/* 5:  mov dword [rip+5], ...  (f) */
		0xb0, 0x2a, 0xc3, 0x90,			/*     ... 0x90c32ab0 */
		0xe9, 0xec, 0x00, 0, 0,			/* 15: jmp 0x100 */
		0x0f, 0x31, 0xc3, 0x90,			/* 20: f: rdtsc; ret */
	};
	static const uint8_t tail[] = {
		0x31, 0xc0,				/* 0x100: xor eax, eax */
		0xe8, 0x0d, 0xff, 0xff, 0xff,		/* 0x102: call f (20 - 0x107) */
		0xf4,					/* 0x107: hlt */
	};
	struct cpu_regs r;

	boot(BOOT_MODE_LONG64, code, sizeof(code));
	cr_assert_eq(memmap_write_phys(mem, CODE + 0x100, tail, sizeof(tail)), 0);
	cr_assert_eq(run_to_end(), CPU_HALTED, "%s", cpu_shutdown_reason(cpu));
	cpu_get_regs(cpu, &r);
	cr_assert_eq(r.rax, 42, "got rax 0x%llx", (unsigned long long)r.rax);
	cr_assert_eq(r.rip, CODE + 0x108);
}

static void ivt(unsigned vec, uint16_t cs, uint16_t ip)
{
	uint16_t v[2] = { ip, cs };

	cr_assert_eq(memmap_write_phys(mem, vec * 4, v, sizeof(v)), 0);
}

Test(cpu, real_mode_exceptions_go_through_the_ivt)
{
	static const uint8_t code[] = {
		0x31, 0xd2,		/* xor dx, dx */
		0xb8, 0x01, 0x00,	/* mov ax, 1 */
		0xf7, 0xf2,		/* div dx  -> #DE */
		0xf4,
	};
	/* at 0x2000: mov bx, 0x1234; hlt */
	static const uint8_t de[] = { 0xbb, 0x34, 0x12, 0xf4 };
	uint16_t frame[3];
	struct cpu_regs r;

	boot(BOOT_MODE_REAL16, code, sizeof(code));
	memmap_write_phys(mem, 0x2000, de, sizeof(de));
	ivt(0, 0x0200, 0);
	cr_assert_eq(run_to_end(), CPU_HALTED, "%s", cpu_shutdown_reason(cpu));
	cpu_get_regs(cpu, &r);
	cr_assert_eq(r.rbx & 0xffff, 0x1234);
	cr_assert_eq(r.cs, 0x0200);
	cr_assert_eq(r.rsp & 0xffff, REAL_STACK - 6, "FLAGS, CS, IP pushed");
	memmap_read_phys(mem, REAL_STACK - 6, frame, sizeof(frame));
	cr_assert_eq(frame[0], 5, "IP of the DIV");
	cr_assert_eq(frame[1], 0x0100, "CS");
	cr_assert_eq(r.rflags & 0x200, 0, "IF cleared");
}

Test(cpu, real_mode_rdpmc_is_recognised_past_the_cs_base)
{
	/* The bytes of a faulting instruction are at CS base + IP, not IP. */
	static const uint8_t code[] = {
		0x66, 0xb9, 0x40, 0, 0, 0,	/* mov ecx, 64 */
		0x0f, 0x33,			/* rdpmc  -> #GP, not #UD */
		0xf4,
	};
	static const uint8_t gp[] = { 0xbb, 0x0d, 0x00, 0xf4 };	/* mov bx, 13; hlt */
	static const uint8_t ud[] = { 0xbb, 0x06, 0x00, 0xf4 };	/* mov bx, 6; hlt */
	struct cpu_regs r;

	boot(BOOT_MODE_REAL16, code, sizeof(code));
	memmap_write_phys(mem, 0x2000, gp, sizeof(gp));
	memmap_write_phys(mem, 0x3000, ud, sizeof(ud));
	ivt(13, 0x0200, 0);
	ivt(6, 0x0300, 0);
	cr_assert_eq(run_to_end(), CPU_HALTED, "%s", cpu_shutdown_reason(cpu));
	cpu_get_regs(cpu, &r);
	cr_assert_eq(r.rbx & 0xffff, 13, "vector %llu", (unsigned long long)(r.rbx & 0xffff));
}
