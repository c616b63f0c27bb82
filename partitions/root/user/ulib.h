/* The user program's runtime: system-call wrappers (abi.h), formatted
 * output through write(), and PASS/FAIL reporting.  Ring 3 code: no port
 * I/O, no privileged instruction; the only way out is SYSCALL. */
#ifndef RK_ULIB_H
#define RK_ULIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "fw_format.h"
#include "fw_string.h"

/* The Linux x86-64 convention: RAX number, RDI, RSI, RDX arguments, the
 * result in RAX; SYSCALL clobbers RCX and R11. */
static inline int64_t u_syscall3(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	int64_t r;

	asm volatile("syscall"
		     : "=a"(r)
		     : "a"(nr), "D"(a0), "S"(a1), "d"(a2)
		     : "rcx", "r11", "memory");
	return r;
}

static inline int64_t u_write(uint64_t fd, const void *buf, uint64_t len)
{
	return u_syscall3(RK_SYS_WRITE, fd, (uint64_t)(uintptr_t)buf, len);
}

static inline int64_t u_yield(void)
{
	return u_syscall3(RK_SYS_YIELD, 0, 0, 0);
}

static inline int64_t u_getpid(void)
{
	return u_syscall3(RK_SYS_GETPID, 0, 0, 0);
}

static inline uint64_t u_get_time(void)
{
	return (uint64_t)u_syscall3(RK_SYS_GET_TIME, 0, 0, 0);
}

static inline int64_t u_vmwp_wait(struct rk_io_request *req)
{
	return u_syscall3(RK_SYS_VMWP_WAIT, (uint64_t)(uintptr_t)req, 0, 0);
}

static inline int64_t u_vmwp_complete(uint64_t value)
{
	return u_syscall3(RK_SYS_VMWP_COMPLETE, value, 0, 0);
}

static inline int64_t u_vmwp_exit(uint64_t value)
{
	return u_syscall3(RK_SYS_VMWP_EXIT, value, 0, 0);
}

static inline int64_t u_vmwp_get_regs(const uint32_t *names, uint64_t n, void *values)
{
	return u_syscall3(RK_SYS_VMWP_GET_REGS, (uint64_t)(uintptr_t)names, n, (uint64_t)(uintptr_t)values);
}

static inline int64_t u_vmwp_resume(const uint32_t *names, const uint64_t *values, uint64_t n)
{
	return u_syscall3(RK_SYS_VMWP_RESUME, (uint64_t)(uintptr_t)names, (uint64_t)(uintptr_t)values, n);
}

static inline int64_t u_vmwp_crash(void)
{
	return u_syscall3(RK_SYS_VMWP_CRASH, 0, 0, 0);
}

/* The fourth argument goes in R10 (the convention's RCX is SYSCALL's). */
static inline int64_t u_vmwp_synic(uint64_t op, uint64_t vp, uint64_t sint, uint64_t conn)
{
	register uint64_t r10 asm("r10") = conn;
	int64_t r;

	asm volatile("syscall"
		     : "=a"(r)
		     : "a"((uint64_t)RK_SYS_VMWP_SYNIC), "D"(op), "S"(vp), "d"(sint), "r"(r10)
		     : "rcx", "r11", "memory");
	return r;
}

__attribute__((noreturn)) void u_exit(int status);

/* RDTSC is allowed in ring 3 while CR4.TSD is clear (SDM Vol. 2B). */
static inline uint64_t u_rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* crt0.S */
uint64_t u_regs_probe(const uint64_t in[12], uint64_t out[12]);
uint64_t u_flags_probe(uint64_t set);

int u_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "PASS: [pid N] msg" or "FAIL: ..."; returns pass. */
bool u_report(bool pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
unsigned u_failures(void);
void u_set_pid(uint32_t pid);

#endif
