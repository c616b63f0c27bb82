/* Intercepts (TLFS "Intercepts", HvCallInstallIntercept) and the
 * emulated-device path of a child's port I/O.
 *
 * Every child runs with unconditional I/O exiting (partition.c).  An I/O
 * instruction on a port its parent installed an intercept for (for the
 * access it makes) becomes an HvMessageTypeX64IoPortIntercept message
 * to the parent's VP 0 on SINT0 (HV_SYNIC_INTERCEPTION_SINT_INDEX), with
 * the child's partition id as the sender (as Linux's mshv root driver
 * reads it), and the VP stops: HvRegisterInterceptSuspend = 1, the
 * instruction not completed.  The parent emulates it, sets the registers
 * the instruction changes (RAX for IN, RIP past the instruction) with
 * HvCallSetVpRegisters and clears HvRegisterInterceptSuspend, and the
 * VP runs again (vpregs.c).  If the parent's VP cannot take the message
 * (SynIC or message page off, queue full) the instruction is not
 * completed and the VP yields: it exits again on its next turn.
 *
 * A port nobody intercepts behaves like a bus with nothing on it, as on
 * a PC without that device: a read returns all ones in the bytes it
 * reads, a write is dropped, and the instruction completes.  INS/OUTS to
 * such a port (which would touch guest memory) are not emulated: the
 * partition is stopped, like any exit hv_model cannot handle.
 *
 * A child's access to a GPA it has no mapping for (an EPT violation whose
 * qualification says no EPT entry allowed anything; its xAPIC page aside,
 * mmio.c) is an HvMessageTypeUnmappedGpa message to the same place,
 * without any intercept installed (as Hyper-V reports unmapped GPAs to
 * the parent), and the VP stops the same way: the parent's device model
 * emulates the instruction, whose bytes the message carries, and
 * completes it with HvCallSetVpRegisters.  The message is only a report:
 * nothing is mapped, the parent can only set the VP's registers.  A
 * parent that cannot take it now (queue full) gets it again when the VP
 * runs its next turn, as for a port; a parent with no SIM page at all
 * can never be told, and the child is stopped as for any access outside
 * its memory. */
#include <hv/marker.h>
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

/* HvCallInstallIntercept: I/O-port intercepts only; an access mask of
 * none removes the intercept of exactly that port or range. */
uint16_t hv_call_install_intercept(struct hv_call *c)
{
	const struct hv_input_install_intercept *in = (const void *)c->in;
	struct hv_partition *p;
	struct hv_io_intercept *e = NULL;
	uint16_t st = hv_call_target(c->vp->part, in->partition_id, false, &p);
	uint64_t param = in->intercept_parameter;
	uint16_t base, end;

	if (st)
		return st;
	if (p->state != HV_PART_ACTIVE)
		return HV_STATUS_INVALID_PARTITION_STATE;
	if (in->access_type & ~HV_INTERCEPT_ACCESS_MASK_READ_WRITE)
		return HV_STATUS_INVALID_PARAMETER;	/* execute means nothing for a port */
	switch (in->intercept_type) {
	case HV_INTERCEPT_TYPE_X64_IO_PORT:
		if (param >> 16)
			return HV_STATUS_INVALID_PARAMETER;
		base = end = (uint16_t)param;
		break;
	case HV_INTERCEPT_TYPE_X64_IO_PORT_RANGE:
		base = (uint16_t)param;
		end = (uint16_t)(param >> 16);
		if ((param >> 32) || base > end)
			return HV_STATUS_INVALID_PARAMETER;
		break;
	default:
		/* MSR, CPUID, exception and the other types are not offered. */
		return HV_STATUS_INVALID_PARAMETER;
	}
	for (unsigned i = 0; i < p->nio_intercepts && !e; i++)
		if (p->io_intercepts[i].base == base && p->io_intercepts[i].end == end)
			e = &p->io_intercepts[i];
	if (!e && !in->access_type)
		return HV_STATUS_SUCCESS;
	if (!e) {
		if (p->nio_intercepts == HV_MAX_IO_INTERCEPTS)
			return HV_STATUS_INSUFFICIENT_MEMORY;
		e = &p->io_intercepts[p->nio_intercepts++];
		e->base = base;
		e->end = end;
	}
	e->access = (uint8_t)in->access_type;
	if (!e->access)
		*e = p->io_intercepts[--p->nio_intercepts];
	return HV_STATUS_SUCCESS;
}

static bool io_intercepted(const struct hv_partition *p, unsigned port, unsigned size, uint8_t access)
{
	for (unsigned i = 0; i < p->nio_intercepts; i++) {
		const struct hv_io_intercept *e = &p->io_intercepts[i];

		if ((e->access & access) && port <= e->end && port + size - 1 >= e->base)
			return true;
	}
	return false;
}

/* HV_X64_VP_EXECUTION_STATE of the VP that exited (its VMCS current). */
static uint16_t execution_state(void)
{
	uint64_t cr0 = vmread(VMCS_GUEST_CR0);
	uint16_t st = (uint16_t)((vmread(VMCS_GUEST_SS_AR_BYTES) >> 5) & HV_X64_VP_EXEC_CPL_MASK);

	if (cr0 & X86_CR0_PE)
		st |= HV_X64_VP_EXEC_CR0_PE;
	if (cr0 & (1ull << 18))
		st |= HV_X64_VP_EXEC_CR0_AM;
	if (vmread(VMCS_GUEST_IA32_EFER) & EFER_LMA)
		st |= HV_X64_VP_EXEC_EFER_LMA;
	/* The exit came while an event was being delivered (SDM 28.2.4):
	 * the access is the delivery's, not the instruction's at RIP. */
	if (vmread(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID)
		st |= HV_X64_VP_EXEC_INTERRUPTION_PENDING;
	if (vmread(VMCS_GUEST_INTERRUPTIBILITY) & 3)
		st |= HV_X64_VP_EXEC_INTERRUPT_SHADOW;
	return st;
}

static struct hv_x64_segment_register segment(struct hv_vp *vp, uint32_t name)
{
	union hv_register_value v;

	hv_vp_get_register(vp, name, &v);
	return v.segment;
}

/* The header every intercept message starts with, for the exit in the
 * current VMCS: `len` the instruction length (0 when the exit gives
 * none), `access` HV_INTERCEPT_ACCESS_*. */
static void intercept_header(struct hv_vp *vp, unsigned len, uint8_t access, struct hv_x64_intercept_message_header *h)
{
	h->vp_index = vp->index;
	h->instruction_length = (uint8_t)(len & 0xf);
	h->intercept_access_type = access;
	h->execution_state = execution_state();
	h->cs_segment = segment(vp, HV_X64_REGISTER_CS);
	h->rip = vmread(VMCS_GUEST_RIP);
	h->rflags = vmread(VMCS_GUEST_RFLAGS);
}

/* Post intercept message `m` of `type` about `vp` to its parent's VP
 * `target` on SINT0 and suspend `vp` until the parent completes it; if
 * the parent cannot take it now, the instruction is not done and `vp`
 * yields: it exits again on its next turn. */
static void intercept_post(struct hv_vp *vp, struct hv_vp *target, uint32_t type, const void *m, unsigned len)
{
	struct hv_partition *p = vp->part;

	if (hv_synic_post(target, HV_SYNIC_INTERCEPTION_SINT_INDEX, type, p->id, m, len)) {
		vp->yield = 1;
		return;
	}
	vp->intercept_suspended = 1;
	p->intercepts_posted++;
	hv_root_news(target);	/* a root waiting in HLT looks at its messages */
	HV_MARKER(HV_MARK_INTERCEPT_POSTED, p->id << 32 | vp->index);
}

/* The intercept message for the I/O exit in the current VMCS. */
static void io_message(struct hv_vp *vp, uint64_t q, struct hv_x64_io_port_intercept_message *m)
{
	memset(m, 0, sizeof(*m));
	intercept_header(vp, (unsigned)vmread(VMCS_EXIT_INSTRUCTION_LEN),
			 (q & EXIT_QUAL_IO_IN) ? HV_INTERCEPT_ACCESS_READ : HV_INTERCEPT_ACCESS_WRITE, &m->header);
	m->port_number = (uint16_t)(q >> EXIT_QUAL_IO_PORT_SHIFT);
	m->access_info = (uint8_t)((q & EXIT_QUAL_IO_SIZE_MASK) + 1) |
			 ((q & EXIT_QUAL_IO_STRING) ? HV_X64_IO_ACCESS_STRING_OP : 0) |
			 ((q & EXIT_QUAL_IO_REP) ? HV_X64_IO_ACCESS_REP_PREFIX : 0);
	/* The instruction bytes are not fetched: instruction_byte_count 0
	 * says so, and the length is in the header. */
	m->rax = vp->g.rax;
	m->ds_segment = segment(vp, HV_X64_REGISTER_DS);
	m->es_segment = segment(vp, HV_X64_REGISTER_ES);
	m->rcx = vp->g.rcx;
	m->rsi = vp->g.rsi;
	m->rdi = vp->g.rdi;
}

int hv_io_exit(struct hv_vp *vp)
{
	struct hv_partition *p = vp->part;
	struct hv_vp *target = p->parent ? p->parent->vps[0] : NULL;
	uint64_t q = vmread(VMCS_EXIT_QUALIFICATION);
	unsigned size = (unsigned)(q & EXIT_QUAL_IO_SIZE_MASK) + 1, port = (unsigned)(q >> EXIT_QUAL_IO_PORT_SHIFT);
	bool in = q & EXIT_QUAL_IO_IN;

	if (target && io_intercepted(p, port & 0xffff, size, in ? HV_INTERCEPT_ACCESS_MASK_READ :
								  HV_INTERCEPT_ACCESS_MASK_WRITE)) {
		static struct hv_x64_io_port_intercept_message m;

		HV_MARKER(HV_MARK_INTERCEPT_EXIT, p->id << 32 | vp->index);
		io_message(vp, q, &m);
		intercept_post(vp, target, HVMSG_X64_IO_PORT_INTERCEPT, &m, sizeof(m));
		return 0;
	}
	if (q & EXIT_QUAL_IO_STRING)
		return -1;
	if (in) {
		/* Nothing answers: the bytes read are all ones; IN EAX
		 * zero-extends into RAX (SDM Vol. 1 3.4.1.1). */
		uint64_t ones = size == 4 ? 0xffffffffull : size == 2 ? 0xffffull : 0xffull;

		vp->g.rax = size == 4 ? ones : (vp->g.rax & ~ones) | ones;
	}
	hv_skip_instruction();
	return 0;
}

/* The memory intercept message for the EPT violation in the current
 * VMCS (qualification `q`, SDM 28.2.1 Table 28-7). */
static void gpa_message(struct hv_vp *vp, uint64_t q, struct hv_x64_memory_intercept_message *m)
{
	struct hv_fetch f;

	memset(m, 0, sizeof(*m));
	/* A read-modify-write sets both the read and the write bit: it is a
	 * write.  The exit gives no instruction length (SDM 28.2.4): 0, the
	 * parent decodes the bytes. */
	intercept_header(vp, 0, (q & EXIT_QUAL_EPT_FETCH) ? HV_INTERCEPT_ACCESS_EXECUTE :
				(q & EXIT_QUAL_EPT_WRITE) ? HV_INTERCEPT_ACCESS_WRITE : HV_INTERCEPT_ACCESS_READ,
			 &m->header);
	/* No memory is behind the GPA, so no memory type either: the
	 * hypervisor does not derive the guest's PAT type for it. */
	m->cache_type = HV_CACHE_TYPE_UNCACHED;
	if (q & EXIT_QUAL_EPT_GLA_VALID) {
		m->memory_access_info = HV_X64_MEMORY_ACCESS_GVA_VALID;
		if (q & EXIT_QUAL_EPT_GLA_TRANSLATED)
			m->memory_access_info |= HV_X64_MEMORY_ACCESS_GVA_GPA_VALID;
		m->guest_virtual_address = vmread(VMCS_GUEST_LINEAR_ADDRESS);
	}
	m->guest_physical_address = vmread(VMCS_GUEST_PHYSICAL_ADDRESS);
	/* The instruction at CS:RIP, as far as the child's own paging and
	 * memory let it be read (an instruction fetch from the unmapped page
	 * itself gives none). */
	m->instruction_byte_count = (uint8_t)hv_fetch_insn(vp, m->instruction_bytes, sizeof(m->instruction_bytes), &f);
}

int hv_gpa_exit(struct hv_vp *vp)
{
	static struct hv_x64_memory_intercept_message m;
	struct hv_partition *p = vp->part;
	struct hv_vp *target = p->parent ? p->parent->vps[0] : NULL;
	uint64_t q = vmread(VMCS_EXIT_QUALIFICATION);

	/* Bits 5:3 are what the EPT entries allowed (SDM Table 28-7): none
	 * means no mapping.  A mapped page whose rights forbid the access
	 * would be HvMessageTypeGpaIntercept, which is not offered. */
	if ((q & (EXIT_QUAL_EPT_READABLE | EXIT_QUAL_EPT_WRITABLE | EXIT_QUAL_EPT_EXECUTABLE)) || !target ||
	    !hv_synic_listening(target))
		return 1;
	HV_MARKER(HV_MARK_INTERCEPT_GPA_EXIT, p->id << 32 | vp->index);
	gpa_message(vp, q, &m);
	intercept_post(vp, target, HVMSG_UNMAPPED_GPA, &m, sizeof(m));
	return 0;
}
