/* Per-block cost model: classification, memory extras, sites, decode
 * modes and limits, priced against a profile whose classes all cost a
 * different power of two, so every sum names the classes it came from. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>
#include <criterion/criterion.h>

#include "cost.h"
#include "profile.h"

enum {
	ALU = 1, MUL = 2, DIV = 4, LOAD = 8, STORE = 16, BRANCH = 32, CALL = 64, RET = 128,
	STACK = 256, STRING = 512, FP = 1024, SIMD = 2048, SERIAL = 4096, MSR = 8192,
	TSC = 16384, IO = 32768, INT = 65536, NOP = 131072, PAUSE = 262144, HLT = 524288,
	OTHER = 1048576,
};

static const char profile_yaml[] =
	"name: pow2\n"
	"frequency_mhz: 1000\n"
	"costs:\n"
	"  alu: 1\n  mul: 2\n  div: 4\n  load: 8\n  store: 16\n  branch: 32\n  call: 64\n"
	"  ret: 128\n  stack: 256\n  string: 512\n  fp: 1024\n  simd: 2048\n  serial: 4096\n"
	"  msr: 8192\n  tsc: 16384\n  io: 32768\n  int: 65536\n  nop: 131072\n  pause: 262144\n"
	"  hlt: 524288\n  other: 1048576\n";

static struct cpu_profile *prof;
static struct cost_model *cm;

static void setup(void)
{
	cr_assert_eq(profile_load_string(profile_yaml, strlen(profile_yaml), "pow2", &prof), 0);
	cm = cost_model_new(prof);
	cr_assert_not_null(cm);
}

static void teardown(void)
{
	cost_model_free(cm);
	profile_free(prof);
}

TestSuite(cost, .init = setup, .fini = teardown);

/* One instruction in 64-bit mode: its class and its cycles. */
static void expect64(const uint8_t *code, size_t len, enum cost_class cls, uint32_t cycles)
{
	enum cost_class got;
	uint32_t cyc;

	cr_assert_eq(cost_classify(cm, code, len, 0x1000, 64, &got, &cyc), 0);
	cr_assert_eq(got, cls, "class %s, expected %s", cost_class_name(got), cost_class_name(cls));
	cr_assert_eq(cyc, cycles, "cycles %#x, expected %#x", cyc, cycles);
}

#define EXPECT(cls, cycles, ...)                                       \
	do {                                                           \
		static const uint8_t b_[] = { __VA_ARGS__ };           \
		expect64(b_, sizeof(b_), cls, cycles);                 \
	} while (0)

/* ---- classes and memory extras ---------------------------------------- */

Test(cost, integer_alu_register_forms_cost_alu)
{
	EXPECT(COST_ALU, ALU, 0x48, 0x01, 0xd8);		/* add rax, rbx */
	EXPECT(COST_ALU, ALU, 0x48, 0x89, 0xd8);		/* mov rax, rbx */
	EXPECT(COST_ALU, ALU, 0x0f, 0x94, 0xc0);		/* sete al */
	EXPECT(COST_ALU, ALU, 0x48, 0x0f, 0x44, 0xc3);	/* cmove rax, rbx */
}

Test(cost, load_adds_load_cost)
{
	EXPECT(COST_ALU, ALU + LOAD, 0x48, 0x8b, 0x03);	/* mov rax, [rbx] */
	EXPECT(COST_ALU, ALU + LOAD, 0x48, 0x39, 0x03);	/* cmp [rbx], rax */
}

Test(cost, store_adds_store_cost)
{
	EXPECT(COST_ALU, ALU + STORE, 0x48, 0x89, 0x03);	/* mov [rbx], rax */
}

Test(cost, read_modify_write_adds_both)
{
	EXPECT(COST_ALU, ALU + LOAD + STORE, 0x48, 0x01, 0x03);	/* add [rbx], rax */
	EXPECT(COST_ALU, ALU + LOAD + STORE, 0x0f, 0xb1, 0x18);	/* cmpxchg [rax], ebx */
}

Test(cost, lea_and_long_nop_do_not_touch_memory)
{
	EXPECT(COST_ALU, ALU, 0x48, 0x8d, 0x43, 0x08);		/* lea rax, [rbx+8] */
	EXPECT(COST_NOP, NOP, 0x90);				/* nop */
	EXPECT(COST_NOP, NOP, 0x0f, 0x1f, 0x44, 0x00, 0x00);	/* nop dword [rax+rax+0] */
}

Test(cost, multiply_and_divide)
{
	EXPECT(COST_MUL, MUL, 0x48, 0x0f, 0xaf, 0xc3);		/* imul rax, rbx */
	EXPECT(COST_MUL, MUL + LOAD, 0x48, 0xf7, 0x20);	/* mul qword [rax] */
	EXPECT(COST_DIV, DIV, 0x48, 0xf7, 0xf3);		/* div rbx */
	EXPECT(COST_DIV, DIV, 0x48, 0xf7, 0xfb);		/* idiv rbx */
}

Test(cost, calls_returns_and_stack_ops_cost_their_class_only)
{
	EXPECT(COST_CALL, CALL, 0xe8, 0x00, 0x00, 0x00, 0x00);	/* call rel32 */
	EXPECT(COST_CALL, CALL, 0xff, 0x10);			/* call [rax] */
	EXPECT(COST_RET, RET, 0xc3);				/* ret */
	EXPECT(COST_STACK, STACK, 0x50);			/* push rax */
	EXPECT(COST_STACK, STACK, 0xff, 0x30);			/* push qword [rax] */
	EXPECT(COST_STACK, STACK, 0x8f, 0x00);			/* pop qword [rax] */
	EXPECT(COST_STACK, STACK, 0x9c);			/* pushfq */
	EXPECT(COST_STACK, STACK, 0xc9);			/* leave */
}

Test(cost, branches)
{
	EXPECT(COST_BRANCH, BRANCH, 0x75, 0xfe);		/* jnz $ */
	EXPECT(COST_BRANCH, BRANCH, 0xeb, 0x00);		/* jmp short */
	EXPECT(COST_BRANCH, BRANCH, 0xe2, 0xfe);		/* loop $ */
	EXPECT(COST_BRANCH, BRANCH + LOAD, 0xff, 0x20);	/* jmp [rax]: target loaded */
}

Test(cost, string_instructions_cost_string_per_execution)
{
	EXPECT(COST_STRING, STRING, 0xf3, 0xa4);		/* rep movsb */
	EXPECT(COST_STRING, STRING, 0xa5);			/* movsd (string) */
	EXPECT(COST_STRING, STRING, 0xf3, 0x48, 0xab);		/* rep stosq */
	EXPECT(COST_STRING, STRING, 0xa6);			/* cmpsb */
}

Test(cost, sse_forms_sharing_a_string_mnemonic_are_simd)
{
	EXPECT(COST_SIMD, SIMD, 0xf2, 0x0f, 0x10, 0xc1);		/* movsd xmm0, xmm1 */
	EXPECT(COST_SIMD, SIMD + LOAD, 0xf2, 0x0f, 0x10, 0x00);	/* movsd xmm0, [rax] */
}

Test(cost, x87_and_sse)
{
	EXPECT(COST_FP, FP, 0xd8, 0xc1);			/* fadd st(0), st(1) */
	EXPECT(COST_FP, FP + LOAD, 0xdd, 0x00);		/* fld qword [rax] */
	EXPECT(COST_FP, FP + STORE, 0xdd, 0x18);		/* fstp qword [rax] */
	EXPECT(COST_SIMD, SIMD, 0x0f, 0x58, 0xc1);		/* addps xmm0, xmm1 */
	EXPECT(COST_SIMD, SIMD + LOAD, 0x0f, 0x28, 0x00);	/* movaps xmm0, [rax] */
	EXPECT(COST_SIMD, SIMD, 0x0f, 0xfe, 0xc1);		/* paddd mm0, mm1 */
}

Test(cost, simd_stores_count_as_stores_despite_capstone_access_flags)
{
	/* Capstone 4.0.2 marks these memory destinations as reads. */
	EXPECT(COST_SIMD, SIMD + STORE, 0x0f, 0x11, 0x00);		/* movups [rax], xmm0 */
	EXPECT(COST_SIMD, SIMD + STORE, 0x66, 0x0f, 0xd6, 0x00);	/* movq [rax], xmm0 */
	EXPECT(COST_SIMD, SIMD + STORE, 0x0f, 0xae, 0x18);		/* stmxcsr [rax] */
	EXPECT(COST_SIMD, SIMD + LOAD, 0x0f, 0xae, 0x10);		/* ldmxcsr [rax] */
}

Test(cost, serialising_and_system_instructions)
{
	EXPECT(COST_SERIAL, SERIAL, 0x0f, 0xa2);		/* cpuid */
	EXPECT(COST_SERIAL, SERIAL, 0x0f, 0x22, 0xd8);		/* mov cr3, rax */
	EXPECT(COST_SERIAL, SERIAL + LOAD, 0x0f, 0x01, 0x10);	/* lgdt [rax] */
	EXPECT(COST_SERIAL, SERIAL, 0x0f, 0x01, 0x38);		/* invlpg [rax]: no access */
	EXPECT(COST_SERIAL, SERIAL, 0xfa);			/* cli */
	EXPECT(COST_SERIAL, SERIAL, 0x0f, 0xae, 0xf0);		/* mfence */
}

/* vmx.c charges the profile's vmx_costs when they execute. */
Test(cost, vmx_instructions_cost_nothing_in_their_block)
{
	EXPECT(COST_SERIAL, 0, 0x0f, 0x01, 0xc1);			/* vmcall */
	EXPECT(COST_SERIAL, 0, 0x0f, 0x01, 0xc2);			/* vmlaunch */
	EXPECT(COST_SERIAL, 0, 0x0f, 0x01, 0xc3);			/* vmresume */
	EXPECT(COST_SERIAL, 0, 0x0f, 0x01, 0xc4);			/* vmxoff */
	EXPECT(COST_SERIAL, 0, 0x0f, 0x78, 0x18);			/* vmread [rax], rbx */
	EXPECT(COST_SERIAL, 0, 0x0f, 0x79, 0x18);			/* vmwrite rbx, [rax] */
	EXPECT(COST_SERIAL, 0, 0x0f, 0x79, 0xd8);			/* vmwrite rbx, rax */
	EXPECT(COST_SERIAL, 0, 0x0f, 0xc7, 0x30);			/* vmptrld [rax] */
	EXPECT(COST_SERIAL, 0, 0x0f, 0xc7, 0x38);			/* vmptrst [rax] */
	EXPECT(COST_SERIAL, 0, 0x66, 0x0f, 0xc7, 0x30);			/* vmclear [rax] */
	EXPECT(COST_SERIAL, 0, 0xf3, 0x0f, 0xc7, 0x30);			/* vmxon [rax] */
	EXPECT(COST_SERIAL, 0, 0x66, 0x0f, 0x38, 0x80, 0x02);		/* invept rax, [rdx] */
	EXPECT(COST_SERIAL, 0, 0x66, 0x0f, 0x38, 0x81, 0x02);		/* invvpid rax, [rdx] */
	EXPECT(COST_SERIAL, SERIAL, 0x0f, 0x01, 0xd4);			/* vmfunc: no VM functions offered, #UD */
}

Test(cost, msr_tsc_io_interrupt_pause_hlt)
{
	EXPECT(COST_MSR, MSR, 0x0f, 0x32);			/* rdmsr */
	EXPECT(COST_MSR, MSR, 0x0f, 0x30);			/* wrmsr */
	EXPECT(COST_TSC, TSC, 0x0f, 0x31);			/* rdtsc */
	EXPECT(COST_TSC, TSC, 0x0f, 0x01, 0xf9);		/* rdtscp */
	EXPECT(COST_IO, IO, 0xec);				/* in al, dx */
	EXPECT(COST_IO, IO, 0xee);				/* out dx, al */
	EXPECT(COST_IO, IO, 0xf3, 0x6c);			/* rep insb */
	EXPECT(COST_INT, INT, 0xcc);				/* int3 */
	EXPECT(COST_INT, INT, 0xcd, 0x80);			/* int 0x80 */
	EXPECT(COST_INT, INT, 0x48, 0xcf);			/* iretq */
	EXPECT(COST_INT, INT, 0x0f, 0x05);			/* syscall */
	EXPECT(COST_INT, INT, 0x0f, 0x0b);			/* ud2 */
	EXPECT(COST_PAUSE, PAUSE, 0xf3, 0x90);			/* pause */
	EXPECT(COST_HLT, HLT, 0xf4);				/* hlt */
}

Test(cost, unclassified_instructions_cost_other)
{
	EXPECT(COST_OTHER, OTHER, 0x8e, 0xd8);			/* mov ds, eax */
	EXPECT(COST_OTHER, OTHER + STORE, 0x0f, 0xae, 0x20);	/* xsave [rax] */
}

/* ---- blocks ------------------------------------------------------------ */

Test(cost, block_sums_instructions_and_records_sites)
{
	static const uint8_t code[] = {
		0x48, 0x01, 0xd8,	/* 0x1000 add rax, rbx */
		0x0f, 0x32,		/* 0x1003 rdmsr */
		0x48, 0x8b, 0x03,	/* 0x1005 mov rax, [rbx] */
		0x0f, 0x31,		/* 0x1008 rdtsc */
		0x0f, 0x30,		/* 0x100a wrmsr */
		0x0f, 0x01, 0xf9,	/* 0x100c rdtscp */
		0xc3,			/* 0x100f ret */
	};
	struct cost_block b;

	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0x1000, 64, 0, &b), 0);
	cr_assert_eq(b.ninsn, 7);
	cr_assert_eq(b.nbytes, sizeof(code));
	cr_assert_eq(b.cycles, ALU + MSR + ALU + LOAD + TSC + MSR + TSC + RET);
	cr_assert_eq(b.nsites, 4);
	cr_assert_eq(b.overflow, 0);

	cr_assert_eq(b.sites[0].kind, SITE_RDMSR);
	cr_assert_eq(b.sites[0].addr, 0x1003);
	cr_assert_eq(b.sites[0].size, 2);
	cr_assert_eq(b.sites[0].prefix_cycles, ALU);

	cr_assert_eq(b.sites[1].kind, SITE_RDTSC);
	cr_assert_eq(b.sites[1].addr, 0x1008);
	cr_assert_eq(b.sites[1].size, 2);
	cr_assert_eq(b.sites[1].prefix_cycles, ALU + MSR + ALU + LOAD);

	cr_assert_eq(b.sites[2].kind, SITE_WRMSR);
	cr_assert_eq(b.sites[2].addr, 0x100a);
	cr_assert_eq(b.sites[2].size, 2);
	cr_assert_eq(b.sites[2].prefix_cycles, ALU + MSR + ALU + LOAD + TSC);

	cr_assert_eq(b.sites[3].kind, SITE_RDTSCP);
	cr_assert_eq(b.sites[3].addr, 0x100c);
	cr_assert_eq(b.sites[3].size, 3);
	cr_assert_eq(b.sites[3].prefix_cycles, ALU + MSR + ALU + LOAD + TSC + MSR);
}

Test(cost, instructions_the_vmx_model_intercepts_are_sites)
{
	static const uint8_t code[] = {
		0x0f, 0x22, 0xc3,		/* 0x1000 mov cr0, rbx */
		0x0f, 0x20, 0xd9,		/* 0x1003 mov rcx, cr3 */
		0x44, 0x0f, 0x22, 0xc0,		/* 0x1006 mov cr8, rax */
		0x0f, 0x21, 0xfa,		/* 0x100a mov rdx, dr7 */
		0x0f, 0x06,			/* 0x100d clts */
		0x0f, 0x01, 0xf0,		/* 0x100f lmsw ax */
		0x0f, 0x01, 0x35, 0, 0, 0, 0,	/* 0x1012 lmsw [rip] */
		0x0f, 0x01, 0xe0,		/* 0x1019 smsw eax */
		0x48, 0x89, 0xd8,		/* 0x101c mov rax, rbx: not a site */
		0xf3, 0x6c,			/* 0x101f rep insb */
		0x66, 0x6d,			/* 0x1021 insw */
		0xf3, 0x90,			/* 0x1023 pause */
		0x48, 0xcf,			/* 0x1025 iretq */
		0xff, 0x18,			/* 0x1027 lcall [rax] (m16:32) */
		0x48, 0xff, 0x2c, 0x24,		/* 0x1029 ljmp [rsp] (m16:64) */
	};
	static const struct { uint64_t addr; uint8_t size, kind; } want[] = {
		{ 0x1000, 3, SITE_MOV_CR }, { 0x1003, 3, SITE_MOV_CR }, { 0x1006, 4, SITE_MOV_CR },
		{ 0x100a, 3, SITE_MOV_DR }, { 0x100d, 2, SITE_CLTS }, { 0x100f, 3, SITE_LMSW },
		{ 0x1012, 7, SITE_LMSW }, { 0x1019, 3, SITE_SMSW }, { 0x101f, 2, SITE_IO }, { 0x1021, 2, SITE_IO },
		{ 0x1023, 2, SITE_PAUSE }, { 0x1025, 2, SITE_IRET }, { 0x1027, 2, SITE_CALL_FAR },
		{ 0x1029, 4, SITE_JMP_FAR },
	};
	struct cost_block b;

	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0x1000, 64, 0, &b), 0);
	cr_assert_eq(b.nsites, sizeof(want) / sizeof(want[0]));
	for (unsigned i = 0; i < b.nsites; i++) {
		cr_assert_eq(b.sites[i].addr, want[i].addr, "site %u at %#llx", i, (unsigned long long)b.sites[i].addr);
		cr_assert_eq(b.sites[i].size, want[i].size, "site %u size %u", i, b.sites[i].size);
		cr_assert_eq(b.sites[i].kind, want[i].kind, "site %u kind %u", i, b.sites[i].kind);
	}
}

Test(cost, far_calls_and_jumps_are_sites_in_32_bit_code)
{
	static const uint8_t code[] = {
		0x9a, 0x78, 0x56, 0x34, 0x12, 0x28, 0x00,	/* 0x1000 lcall 0x28:0x12345678 */
		0x66, 0xea, 0x78, 0x56, 0x30, 0x00,		/* 0x1007 ljmp 0x30:0x5678 (ptr16:16) */
		0xff, 0x1d, 0x00, 0x20, 0x00, 0x00,		/* 0x100d lcall [0x2000] */
		0x66, 0xff, 0x2b,				/* 0x1013 ljmp [ebx] (m16:16) */
		0xff, 0x10,					/* 0x1016 call [eax]: near, not a site */
		0xff, 0x20,					/* 0x1018 jmp [eax]: near, not a site */
	};
	static const struct { uint64_t addr; uint8_t size, kind; } want[] = {
		{ 0x1000, 7, SITE_CALL_FAR }, { 0x1007, 6, SITE_JMP_FAR },
		{ 0x100d, 6, SITE_CALL_FAR }, { 0x1013, 3, SITE_JMP_FAR },
	};
	struct cost_block b;

	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0x1000, 32, 0, &b), 0);
	cr_assert_eq(b.ninsn, 6);
	cr_assert_eq(b.nsites, sizeof(want) / sizeof(want[0]));
	for (unsigned i = 0; i < b.nsites; i++) {
		cr_assert_eq(b.sites[i].addr, want[i].addr, "site %u at %#llx", i, (unsigned long long)b.sites[i].addr);
		cr_assert_eq(b.sites[i].size, want[i].size, "site %u size %u", i, b.sites[i].size);
		cr_assert_eq(b.sites[i].kind, want[i].kind, "site %u kind %u", i, b.sites[i].kind);
	}
}

Test(cost, io_cpuid_and_syscall_are_sites)
{
	static const uint8_t code[] = {
		0xe4, 0x80,		/* 0x1000 in al, 0x80 */
		0xe7, 0x71,		/* 0x1002 out 0x71, eax */
		0xec,			/* 0x1004 in al, dx */
		0x66, 0xef,		/* 0x1005 out dx, ax */
		0x6e,			/* 0x1007 outsb */
		0xf3, 0x6f,		/* 0x1008 rep outsd */
		0x0f, 0xa2,		/* 0x100a cpuid */
		0x90,			/* 0x100c nop: not a site */
		0x0f, 0x05,		/* 0x100d syscall */
	};
	static const struct { uint64_t addr; uint8_t size, kind; } want[] = {
		{ 0x1000, 2, SITE_IO }, { 0x1002, 2, SITE_IO }, { 0x1004, 1, SITE_IO }, { 0x1005, 2, SITE_IO },
		{ 0x1007, 1, SITE_IO }, { 0x1008, 2, SITE_IO }, { 0x100a, 2, SITE_CPUID }, { 0x100d, 2, SITE_SYSCALL },
	};
	struct cost_block b;

	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0x1000, 64, 0, &b), 0);
	cr_assert_eq(b.nsites, sizeof(want) / sizeof(want[0]));
	for (unsigned i = 0; i < b.nsites; i++) {
		cr_assert_eq(b.sites[i].addr, want[i].addr, "site %u at %#llx", i, (unsigned long long)b.sites[i].addr);
		cr_assert_eq(b.sites[i].size, want[i].size, "site %u size %u", i, b.sites[i].size);
		cr_assert_eq(b.sites[i].kind, want[i].kind, "site %u kind %u", i, b.sites[i].kind);
	}
}

/* include/hv/marker.h: nopl 0x4856IIII(%reg) costs nothing and is a site
 * naming its id and register; another displacement is a plain NOP. */
Test(cost, markers_are_free_sites)
{
	static const uint8_t code[] = {
		0x0f, 0x1f, 0x80, 0x34, 0x12, 0x56, 0x48,	/* 0x1000 nopl 0x48561234(%rax) */
		0x41, 0x0f, 0x1f, 0x81, 0x05, 0x00, 0x56, 0x48,	/* 0x1007 nopl 0x48560005(%r9) */
		0x0f, 0x1f, 0x80, 0x34, 0x12, 0x57, 0x48,	/* 0x100f nopl 0x48571234(%rax): a NOP */
	};
	struct cost_block b;

	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0x1000, 64, 0, &b), 0);
	cr_assert_eq(b.ninsn, 3);
	cr_assert_eq(b.cycles, NOP, "cycles %#llx", (unsigned long long)b.cycles);
	cr_assert_eq(b.nsites, 2);
	cr_assert_eq(b.sites[0].kind, SITE_MARKER);
	cr_assert_eq(b.sites[0].marker, 0x1234);
	cr_assert_eq(b.sites[0].marker_reg, X86_REG_RAX);
	cr_assert_eq(b.sites[0].size, 7);
	cr_assert_eq(b.sites[1].kind, SITE_MARKER);
	cr_assert_eq(b.sites[1].marker, 5);
	cr_assert_eq(b.sites[1].marker_reg, X86_REG_R9);
	cr_assert_eq(b.sites[1].addr, 0x1007);
}

Test(cost, site_at_block_start_has_zero_prefix)
{
	static const uint8_t code[] = { 0x0f, 0x31, 0xc3 };	/* rdtsc; ret */
	struct cost_block b;

	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0xfff0, 64, 0, &b), 0);
	cr_assert_eq(b.nsites, 1);
	cr_assert_eq(b.sites[0].addr, 0xfff0);
	cr_assert_eq(b.sites[0].prefix_cycles, 0);
}

/* Blocks after which the CPU looks at CPL and RFLAGS.AC again
 * (alignment checking, cpu.c). */
Test(cost, instructions_changing_cpl_or_ac_flag_their_block)
{
	static const uint8_t changing[][3] = {
		{ 0x9d },		/* popfq */
		{ 0x48, 0xcf },		/* iretq */
		{ 0xcb },		/* retf */
		{ 0x48, 0x0f, 0x07 },	/* sysretq */
		{ 0x0f, 0x35 },		/* sysexit */
		{ 0x0f, 0x34 },		/* sysenter */
		{ 0x0f, 0x01, 0xcb },	/* stac */
		{ 0x0f, 0x01, 0xca },	/* clac */
		{ 0xff, 0x18 },		/* lcall [rax] */
	};
	static const uint8_t sizes[] = { 1, 2, 1, 3, 2, 2, 3, 3, 2 };
	static const uint8_t plain[] = { 0x9c, 0x58, 0xfb, 0xc3 };	/* pushfq; pop rax; sti; ret */
	struct cost_block b;

	for (size_t i = 0; i < sizeof(sizes); i++) {
		cr_assert_eq(cost_price_block(cm, changing[i], sizes[i], 0x1000, 64, 0, &b), 0);
		cr_assert_eq(b.ninsn, 1);
		cr_assert(b.flags & COST_BLOCK_AC, "instruction %zu", i);
	}
	cr_assert_eq(cost_price_block(cm, plain, sizeof(plain), 0x1000, 64, 0, &b), 0);
	cr_assert_not(b.flags & COST_BLOCK_AC);
	cr_assert(b.flags & COST_BLOCK_SETS_IF);
}

Test(cost, sites_beyond_the_limit_set_overflow)
{
	uint8_t code[2 * (COST_MAX_SITES + 1)];
	struct cost_block b;

	for (size_t i = 0; i < sizeof(code); i += 2) {
		code[i] = 0x0f;		/* rdtsc x 17 */
		code[i + 1] = 0x31;
	}
	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0, 64, 0, &b), 0);
	cr_assert_eq(b.ninsn, COST_MAX_SITES + 1);
	cr_assert_eq(b.cycles, (uint64_t)TSC * (COST_MAX_SITES + 1));
	cr_assert_eq(b.nsites, COST_MAX_SITES);
	cr_assert_eq(b.overflow, 1);
	cr_assert_eq(b.sites[COST_MAX_SITES - 1].addr, 2 * (COST_MAX_SITES - 1));
}

Test(cost, ninsn_limits_the_decode)
{
	static const uint8_t code[] = {
		0x48, 0x01, 0xd8,	/* add rax, rbx */
		0x48, 0x01, 0xd8,	/* add rax, rbx */
		0x0f, 0x31,		/* rdtsc: not reached */
		0xc3,			/* ret */
	};
	struct cost_block b;

	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0, 64, 2, &b), 0);
	cr_assert_eq(b.ninsn, 2);
	cr_assert_eq(b.nbytes, 6);
	cr_assert_eq(b.cycles, 2 * ALU);
	cr_assert_eq(b.nsites, 0);
}

Test(cost, operand_size_prefix_changes_meaning_between_16_and_32_bit)
{
	/* 66 b8 01 00 00 00: in 16-bit code 66 selects 32-bit operands, so
	 * this is one `mov eax, 1`; in 32-bit code it selects 16 bits: `mov
	 * ax, 1` and then 00 00 = `add [eax], al`. */
	static const uint8_t code[] = { 0x66, 0xb8, 0x01, 0x00, 0x00, 0x00 };
	struct cost_block b;

	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0, 16, 0, &b), 0);
	cr_assert_eq(b.ninsn, 1);
	cr_assert_eq(b.cycles, ALU);
	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0, 32, 0, &b), 0);
	cr_assert_eq(b.ninsn, 2);
	cr_assert_eq(b.cycles, ALU + ALU + LOAD + STORE);
}

Test(cost, rex_byte_is_an_instruction_outside_64_bit_mode)
{
	/* 40 90: in 64-bit code 40 is a REX prefix of `nop`; in 32-bit code
	 * it is `inc eax` followed by `nop`. */
	static const uint8_t code[] = { 0x40, 0x90 };
	struct cost_block b;

	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0, 64, 0, &b), 0);
	cr_assert_eq(b.ninsn, 1);
	cr_assert_eq(b.cycles, NOP);
	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0, 32, 0, &b), 0);
	cr_assert_eq(b.ninsn, 2);
	cr_assert_eq(b.cycles, ALU + NOP);
	/* 06 is `push es` in 32-bit code and invalid in 64-bit code. */
	static const uint8_t push_es[] = { 0x06 };
	enum cost_class cls;
	uint32_t cyc;

	cr_assert_eq(cost_classify(cm, push_es, 1, 0, 32, &cls, &cyc), 0);
	cr_assert_eq(cls, COST_STACK);
	cr_assert_eq(cost_classify(cm, push_es, 1, 0, 64, &cls, &cyc), -EINVAL);
}

Test(cost, undecodable_bytes_end_the_block_and_cost_other)
{
	static const uint8_t code[] = {
		0x48, 0x01, 0xd8,	/* add rax, rbx */
		0x0f, 0x04,		/* undefined opcode */
		0x90,			/* nop: never reached */
	};
	struct cost_block b;

	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0, 64, 0, &b), 0);
	cr_assert_eq(b.nbytes, 3);
	cr_assert_eq(b.ninsn, 2);
	cr_assert_eq(b.cycles, ALU + OTHER);
	/* With a known instruction count, every instruction still owed costs other. */
	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0, 64, 4, &b), 0);
	cr_assert_eq(b.ninsn, 4);
	cr_assert_eq(b.cycles, ALU + 3 * OTHER);
}

Test(cost, truncated_instruction_is_charged_as_other)
{
	static const uint8_t code[] = { 0x90, 0x48, 0x8b };	/* nop; mov rax, [?? cut */
	struct cost_block b;

	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0, 64, 0, &b), 0);
	cr_assert_eq(b.nbytes, 1);
	cr_assert_eq(b.ninsn, 2);
	cr_assert_eq(b.cycles, NOP + OTHER);
}

Test(cost, empty_block_and_bad_arguments)
{
	static const uint8_t code[] = { 0x90 };
	struct cost_block b;
	enum cost_class cls;
	uint32_t cyc;

	cr_assert_eq(cost_price_block(cm, code, 0, 0, 64, 0, &b), 0);
	cr_assert_eq(b.ninsn, 0);
	cr_assert_eq(b.cycles, 0);
	cr_assert_eq(b.nbytes, 0);
	cr_assert_eq(cost_price_block(cm, code, 1, 0, 8, 0, &b), -EINVAL);
	cr_assert_eq(cost_price_block(cm, NULL, 1, 0, 64, 0, &b), -EINVAL);
	cr_assert_eq(cost_price_block(NULL, code, 1, 0, 64, 0, &b), -EINVAL);
	cr_assert_eq(cost_price_block(cm, code, 1, 0, 64, 0, NULL), -EINVAL);
	cr_assert_eq(cost_classify(cm, code, 1, 0, 48, &cls, &cyc), -EINVAL);
	cr_assert_null(cost_model_new(NULL));
}

Test(cost, garbage_never_crashes_and_stays_within_bounds)
{
	static const unsigned modes[] = { 16, 32, 64 };
	uint8_t code[512];
	uint32_t seed = 0xC0FFEE;

	for (unsigned iter = 0; iter < 600; iter++) {
		struct cost_block b;
		size_t len = 1 + iter % sizeof(code);

		for (size_t i = 0; i < len; i++) {
			seed = seed * 1664525u + 1013904223u;
			code[i] = (uint8_t)(seed >> 24);
		}
		for (size_t m = 0; m < 3; m++) {
			uint64_t base = 0xffffffffffff0000ull;

			cr_assert_eq(cost_price_block(cm, code, len, base, modes[m], 0, &b), 0);
			cr_assert_leq(b.nbytes, len);
			cr_assert_geq(b.ninsn, 1);
			cr_assert_leq(b.nsites, COST_MAX_SITES);
			for (uint32_t s = 0; s < b.nsites; s++) {
				cr_assert_geq(b.sites[s].addr, base);
				cr_assert_lt(b.sites[s].addr, base + b.nbytes);
				cr_assert_lt(b.sites[s].prefix_cycles, b.cycles);
			}
		}
	}
}

Test(cost, shipped_style_costs_price_a_typical_block)
{
	/* The same block against a second profile: costs come from the
	 * profile, not from constants in the model. */
	static const char y[] =
		"name: flat\nfrequency_khz: 1\n"
		"costs: {alu: 7, mul: 7, div: 7, load: 0, store: 0, branch: 7, call: 7, ret: 7,\n"
		"        stack: 7, string: 7, fp: 7, simd: 7, serial: 7, msr: 7, tsc: 7, io: 7,\n"
		"        int: 7, nop: 7, pause: 7, hlt: 7, other: 7}\n";
	static const uint8_t code[] = {
		0x55,			/* push rbp */
		0x48, 0x89, 0xe5,	/* mov rbp, rsp */
		0x48, 0x8b, 0x07,	/* mov rax, [rdi] */
		0x5d,			/* pop rbp */
		0xc3,			/* ret */
	};
	struct cpu_profile *p2 = NULL;
	struct cost_model *m2;
	struct cost_block b;

	cr_assert_eq(profile_load_string(y, strlen(y), "flat", &p2), 0);
	m2 = cost_model_new(p2);
	cr_assert_not_null(m2);
	cr_assert_eq(cost_price_block(m2, code, sizeof(code), 0, 64, 0, &b), 0);
	cr_assert_eq(b.ninsn, 5);
	cr_assert_eq(b.cycles, 35);
	cr_assert_eq(cost_price_block(cm, code, sizeof(code), 0, 64, 0, &b), 0);
	cr_assert_eq(b.cycles, STACK + ALU + ALU + LOAD + STACK + RET);
	cost_model_free(m2);
	profile_free(p2);
}
