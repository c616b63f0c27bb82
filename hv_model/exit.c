/* VM exits and the scheduler that runs VPs on an LP.
 *
 * Scheduling policy (issue 4 item 5): every LP runs hv_run; each VP runs
 * on the LP it was placed on at creation (lp.c).  Round robin over the
 * runnable VPs of all partitions placed on the LP, each for a time slice
 * of HV_SLICE_CYCLES of simulated time measured by the VMX-preemption
 * timer; a VP that executes HLT yields until something wakes it.  When
 * no VP can run the LP waits for a kick (lp.c) or its next timer. */
#include <hv/marker.h>
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

#define HV_SLICE_CYCLES 1000000ull	/* ~0.3 ms at 3.4 GHz */

/* Inject a hardware exception into the VP at its next entry (SDM
 * 25.8.3); the instruction that exited did not complete. */
void hv_inject_exception(unsigned vector, int has_error, uint32_t error)
{
	vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_HARD_EXCEPTION << 8 | vector |
					      (has_error ? INTR_INFO_DELIVER_CODE : 0));
	if (has_error)
		vmwrite(VMCS_ENTRY_EXCEPTION_ERROR_CODE, error);
}

/* General register `n` of `vp` in the encoding's order (SDM Vol. 3C
 * Table 28-3: 0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP, 5 RBP, 6 RSI, 7 RDI,
 * 8-15 R8-R15).  RSP lives in the VMCS: for n = 4 this is `rsp`, which
 * the caller read and writes back if it changed it. */
uint64_t *hv_vp_gpr(struct hv_vp *vp, unsigned n, uint64_t *rsp)
{
	static const uint8_t slot[16] = { 0, 1, 2, 3, 0xff, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };

	return (n & 15) == 4 ? rsp : &((uint64_t *)&vp->g)[slot[n & 15]];
}

/* The exiting instruction completed: continue after it. */
void hv_skip_instruction(void)
{
	vmwrite(VMCS_GUEST_RIP, vmread(VMCS_GUEST_RIP) + vmread(VMCS_EXIT_INSTRUCTION_LEN));
	/* Blocking by STI or MOV SS ends with the instruction (SDM 25.4.2). */
	vmwrite(VMCS_GUEST_INTERRUPTIBILITY, vmread(VMCS_GUEST_INTERRUPTIBILITY) & ~3ull);
}

static void exit_cpuid(struct hv_vp *vp)
{
	uint32_t leaf = (uint32_t)vp->g.rax, sub = (uint32_t)vp->g.rcx;
	struct cpuid_regs r;

	if (!hv_cpuid_synthetic(vp, leaf, &r)) {
		r = cpuid(leaf, sub);
		if (leaf == 1) {
			/* A hypervisor is present (CPUID.1:ECX[31]); no nested VMX;
			 * no MONITOR/MWAIT (ECX[3]): a VP idles with HLT, which
			 * yields its LP (leaf 5 then reads as the processor's,
			 * unused). */
			r.ecx |= 1u << 31;
			r.ecx &= ~(1u << 5 | 1u << 3);
			/* OSXSAVE is the VP's CR4.OSXSAVE, not the hypervisor's. */
			r.ecx &= ~X86_CPUID1_ECX_OSXSAVE;
			if ((r.ecx & X86_CPUID1_ECX_XSAVE) && (vmread(VMCS_GUEST_CR4) & X86_CR4_OSXSAVE))
				r.ecx |= X86_CPUID1_ECX_OSXSAVE;
		}
		if (!vp->part->is_root && leaf == 1) {
			/* A child's APIC is its virtual x2APIC (vapic.c): ECX[21]
			 * x2APIC, EBX[31:24] its initial APIC ID, the VP index. */
			r.ecx |= 1u << 21;
			r.ebx = (r.ebx & 0x00ffffffu) | (uint32_t)vp->index << 24;
			/* ECX[24]: its timer has TSC-deadline mode (apictimer.c),
			 * whatever the processor's has. */
			r.ecx |= 1u << 24;
			/* EDX[9] says the APIC is there: it follows
			 * IA32_APIC_BASE.EN (SDM 10.4.3). */
			if (!(vp->vapic.apic_base & (1ull << 11)))
				r.edx &= ~(1u << 9);
		}
		if (!vp->part->is_root && leaf == 0xb)
			r.edx = vp->index;	/* the x2APIC ID (SDM Vol. 2A CPUID leaf 0BH) */
	}
	vp->g.rax = r.eax;
	vp->g.rbx = r.ebx;
	vp->g.rcx = r.ecx;
	vp->g.rdx = r.edx;
	hv_skip_instruction();
}

/* XSETBV exits unconditionally (SDM 26.1.2) with the value unchecked:
 * the checks of SDM Vol. 2C XSETBV against the components this processor
 * has (CPUID 0DH.0), then the VP's XCR0, which hv_run loads before each
 * of its entries.  (The #UD for CR4.OSXSAVE = 0 and the #GP at CPL > 0
 * came before the exit.) */
static void exit_xsetbv(struct hv_vp *vp)
{
	struct cpuid_regs d = cpuid(0xd, 0);
	uint64_t v = (uint32_t)vp->g.rax | vp->g.rdx << 32, valid = d.eax | (uint64_t)d.edx << 32;

	if ((uint32_t)vp->g.rcx != 0 || !(v & X86_XCR0_X87) || (v & ~valid) ||
	    ((v & X86_XCR0_AVX) && !(v & X86_XCR0_SSE))) {
		hv_inject_exception(13, 1, 0);
		return;
	}
	vp->xcr0 = v;
	hv_skip_instruction();
}

/* MSRs outside the MSR bitmaps' ranges always exit (SDM 25.6.9): the
 * synthetic ones are the hypervisor's, the rest do not exist. */
static void exit_msr(struct hv_vp *vp, int write)
{
	uint32_t idx = (uint32_t)vp->g.rcx;
	uint64_t v = (uint32_t)vp->g.rax | vp->g.rdx << 32;

	if (write ? hv_msr_write(vp, idx, v) : hv_msr_read(vp, idx, &v)) {
		hv_inject_exception(13, 1, 0);
		return;
	}
	if (!write) {
		vp->g.rax = (uint32_t)v;
		vp->g.rdx = v >> 32;
	}
	hv_skip_instruction();
}

/* Something the root waits for happened in a child (a VP halted or
 * stopped): the root's VP 0 leaves HLT.  The TLFS delivers such news as
 * intercept messages through the SynIC, which comes with the interrupt
 * controllers (issue 5); until then the root finds out by looking. */
static void wake_root(void)
{
	struct hv_partition *root = hv_partition_at(0);

	if (root && root->vps[0])
		hv_root_news(root->vps[0]);
}

/* A partition that broke a rule it cannot recover from: the root takes
 * the run down with it (as a root crash does); a child stops. */
static void partition_fault(struct hv_vp *vp, const char *what, uint64_t a, uint64_t b)
{
	struct hv_partition *p = vp->part;

	rt_printf("hv: partition %lu VP %u: %s (0x%lx, 0x%lx) at rip 0x%lx\n", (unsigned long)p->id, vp->index, what,
		  (unsigned long)a, (unsigned long)b, (unsigned long)vmread(VMCS_GUEST_RIP));
	if (p->is_root)
		rt_exit(4);
	for (unsigned i = 0; i < p->nvps; i++)
		if (p->vps[i]) {
			p->vps[i]->runnable = 0;
			hv_vp_notify(p->vps[i]);	/* running elsewhere: it stops at once */
		}
	p->faulted = true;
	wake_root();
}

static void handle_exit(struct hv_vp *vp)
{
	uint32_t reason = (uint32_t)vmread(VMCS_EXIT_REASON);

	if (reason & EXIT_REASON_FAILED_VMENTRY) {
		partition_fault(vp, "VM entry failed", reason, vmread(VMCS_EXIT_QUALIFICATION));
		return;
	}
	if (!vp->part->is_root)
		hv_vapic_sync(vp);	/* an EOI left to the hypervisor (vapic.c) */
	switch (reason & 0xffff) {
	case EXIT_REASON_CPUID:
		exit_cpuid(vp);
		break;
	case EXIT_REASON_MSR_READ:
		exit_msr(vp, 0);
		break;
	case EXIT_REASON_MSR_WRITE:
		exit_msr(vp, 1);
		break;
	case EXIT_REASON_VMCALL:
		hv_hypercall(vp);
		break;
	case EXIT_REASON_XSETBV:
		exit_xsetbv(vp);
		break;
	case EXIT_REASON_HLT:
		hv_skip_instruction();
		if (hv_intr_hlt_wakes(vp))
			break;	/* a pending vector ends the HLT at once (intr.c) */
		if (vp->wake_pending) {
			vp->wake_pending = 0;	/* the root: news since it last looked (lp.c) */
			break;
		}
		vp->halted = 1;
		vp->yield = 1;
		if (!vp->part->is_root)
			wake_root();
		break;
	case EXIT_REASON_IO_INSTRUCTION:
		/* Only children exit on I/O: an intercept message to the
		 * parent, or the no-device default (intercept.c). */
		if (hv_io_exit(vp))
			partition_fault(vp, "string I/O to a port nobody intercepts (qualification, 0)",
					vmread(VMCS_EXIT_QUALIFICATION), 0);
		break;
	case EXIT_REASON_EXTERNAL_INTERRUPT:
		hv_intr_exit(vp);	/* for the root (intr.c) */
		break;
	case EXIT_REASON_INTERRUPT_WINDOW:
		break;	/* the guest can take the pending interrupt: hv_run injects it */
	case EXIT_REASON_CR_ACCESS:
		/* Only a child's CR8 accesses (its virtual TPR, vapic.c) and
		 * its MOV to CR0 of a bit the hypervisor owns (cr0.c) exit. */
		if (vp->part->is_root || (hv_cr0_exit(vp) && hv_vapic_cr8_exit(vp)))
			partition_fault(vp, "unexpected control-register access (qualification, 0)",
					vmread(VMCS_EXIT_QUALIFICATION), 0);
		break;
	case EXIT_REASON_PREEMPTION_TIMER:
		/* The slice is over, or a timer is due (hv_run). */
		if (rdtsc() >= vp->slice_end)
			vp->yield = 1;
		break;
	case EXIT_REASON_VMCLEAR:
	case EXIT_REASON_VMLAUNCH:
	case EXIT_REASON_VMPTRLD:
	case EXIT_REASON_VMPTRST:
	case EXIT_REASON_VMREAD:
	case EXIT_REASON_VMRESUME:
	case EXIT_REASON_VMWRITE:
	case EXIT_REASON_VMXOFF:
	case EXIT_REASON_VMXON:
	case EXIT_REASON_INVEPT:
	case EXIT_REASON_INVVPID:
	case EXIT_REASON_MONITOR:	/* not in the partitions' CPUID */
	case EXIT_REASON_MWAIT:
		hv_inject_exception(6, 0, 0);	/* no nested VMX: #UD */
		break;
	case EXIT_REASON_EPT_VIOLATION: {
		/* A child's xAPIC page is emulated (mmio.c, vapic.c); any
		 * other GPA it has no mapping for is its parent's to emulate
		 * (intercept.c). */
		const char *why = NULL;
		int r = vp->part->is_root ? 1 : hv_mmio_exit(vp, &why);

		if (r > 0 && !vp->part->is_root)
			r = hv_gpa_exit(vp);
		if (r < 0)
			partition_fault(vp, why, vmread(VMCS_GUEST_PHYSICAL_ADDRESS), vmread(VMCS_GUEST_RIP));
		else if (r > 0)
			partition_fault(vp, "access outside its memory (EPT violation: GPA, qualification)",
					vmread(VMCS_GUEST_PHYSICAL_ADDRESS), vmread(VMCS_EXIT_QUALIFICATION));
		break;
	}
	case EXIT_REASON_TRIPLE_FAULT:
		partition_fault(vp, "triple fault", 0, 0);
		break;
	default:
		partition_fault(vp, "unexpected VM exit (reason, qualification)", reason,
				vmread(VMCS_EXIT_QUALIFICATION));
		break;
	}
}

static int can_run(const struct hv_vp *vp, unsigned lp)
{
	return vp && vp->lp == lp && vp->runnable && !vp->halted && !vp->suspended && !vp->intercept_suspended &&
	       !vp->wait_sipi && !vp->borrowed;
}

/* The next VP to run on `lp` after `cur` (which may be the answer again):
 * round robin over partition slots and the VPs each has. */
static struct hv_vp *next_vp(unsigned lp, struct hv_vp *cur)
{
	unsigned ns = hv_partition_slots(), s0 = cur ? cur->part->slot : 0, i0 = cur ? cur->index + 1 : 0;

	for (unsigned k = 0; k <= ns; k++) {
		struct hv_partition *p = hv_partition_at((s0 + k) % ns);
		unsigned end;

		if (!p)
			continue;
		/* back at cur's partition after a full turn: up to cur */
		end = k == ns ? (i0 < p->nvps ? i0 : p->nvps) : p->nvps;
		for (unsigned i = k == 0 ? i0 : 0; i < end; i++)
			if (can_run(p->vps[i], lp))
				return p->vps[i];
	}
	return NULL;
}

/* The LP cannot go on: with the lock let go, so the others can. */
static __attribute__((noreturn)) void lp_halt(const char *why)
{
	rt_printf("hv: LP%u: %s; halting\n", hv_lp_index(), why);
	hv_unlock(HV_LP_IDLE);
	for (;;)
		asm volatile("cli; hlt");
}

void hv_run(unsigned lp)
{
	struct hv_lp *me = hv_this_lp();
	struct hv_vp *vp, *idle;
	unsigned rate = rdmsr(MSR_IA32_VMX_MISC) & 0x1f;

	hv_lock();
	for (;;) {
		uint64_t stop, limit = ~0ull;
		struct hv_vp *cur = me->cur;
		int r;

		/* Another LP waits for a VMCS active here (lp.c). */
		hv_lp_service();
		/* Synthetic timers and children's APIC timers due on this LP
		 * fire (and may wake VPs); `stop` is when the next one is due
		 * (stimer.c, apictimer.c). */
		stop = hv_stimer_run(lp);

		/* A physical interrupt for the root ended a child's slice:
		 * the root runs next (intr.c).  Otherwise the VP keeps the LP
		 * until its slice ends or it yields; then the next one gets a
		 * new slice. */
		vp = hv_intr_urgent(lp);
		if (vp && !can_run(vp, lp))
			vp = NULL;
		if (vp) {
			if (vp != cur)
				vp->slice_end = rdtsc() + HV_SLICE_CYCLES;
		} else if (cur && can_run(cur, lp) && !cur->yield && rdtsc() < cur->slice_end) {
			vp = cur;
		} else {
			vp = next_vp(lp, cur);
			if (vp)
				vp->slice_end = rdtsc() + HV_SLICE_CYCLES;
		}
		if (vp)
			vp->yield = 0;
		/* Nothing can run: wait in the root's HLT for an interrupt
		 * (intr.c), bounded by the next timer; with no root VP here,
		 * for a kick from another LP or that timer (lp.c). */
		idle = !vp ? hv_intr_idle_vp(lp) : NULL;
		if (!vp && !idle) {
			if (stop == ~0ull && hv_lp_count == 1)
				lp_halt("no VP can run");
			hv_lp_idle(stop);
			continue;
		}
		if (idle)
			vp = idle;
		if (hv_vmcs_load(vp)) {
			partition_fault(vp, "VMPTRLD failed", vp->vmcs, 0);
			continue;
		}
		if (idle && hv_intr_idle_enter())
			lp_halt("the root halted with interrupts off and no VP can run");
		/* The VMX-preemption timer ends the entry at the end of the
		 * slice when another VP could use the LP, and when the next
		 * timer on the LP is due (SDM 26.5.1: it counts
		 * TSC >> rate; rounded up, so never early). */
		if (!idle && next_vp(lp, vp) != vp)
			limit = vp->slice_end;
		if (stop < limit)
			limit = stop;
		if (limit != ~0ull) {
			uint64_t now = rdtsc(), left = limit > now ? limit - now : 0;

			left = (left + (1ull << rate) - 1) >> rate;
			vmwrite(VMCS_PIN_BASED_CTLS, vmread(VMCS_PIN_BASED_CTLS) | PIN_BASED_PREEMPTION_TIMER);
			vmwrite(VMCS_PREEMPTION_TIMER_VALUE, left > 0xffffffffull ? 0xffffffffull : left);
		} else {
			vmwrite(VMCS_PIN_BASED_CTLS, vmread(VMCS_PIN_BASED_CTLS) & ~(uint64_t)PIN_BASED_PREEMPTION_TIMER);
		}
		if (vp->part->is_root)
			hv_synic_inject(vp);
		else
			hv_vapic_inject(vp);	/* a child's interrupts: its virtual APIC */
		if (vp->mark_resume) {
			vp->mark_resume = 0;
			HV_MARKER(HV_MARK_INTERCEPT_RESUMED, vp->part->id << 32 | vp->index);
		}
		if (me->xcr0 != vp->xcr0 && me->xcr0) {
			xsetbv(0, vp->xcr0);
			me->xcr0 = vp->xcr0;
		}
		HV_MARKER(HV_MARK_RUN_VP, vp->part->id << 32 | vp->index);
		me->cur = vp;
		/* Whatever another LP changes from here on kicks this one out
		 * of the guest (lp.c); the VP's state is not changed by
		 * another LP until this one cleared its VMCS. */
		hv_unlock(HV_LP_GUEST);
		r = hv_vmx_run(&vp->g, vp->launched);
		me->exit_tsc = rdtsc();
		hv_lock();
		if (r) {
			partition_fault(vp, "VMLAUNCH/VMRESUME failed (result, VM-instruction error)", (uint64_t)r,
					vmread(VMCS_VM_INSTRUCTION_ERROR));
			continue;
		}
		vp->launched = 1;
		if (idle)
			hv_intr_idle_exit();
		handle_exit(vp);
	}
}
