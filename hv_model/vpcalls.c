/* Hypercalls a guest makes about its own VPs (TLFS "Virtual Processor
 * Management" and "Virtual MMU"): the long-spin-wait notification and the
 * TLB flushes.  No privilege is needed for them. */
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

/* The VP spun too long on a lock: let another VP have the LP. */
uint16_t hv_call_notify_long_spin_wait(struct hv_call *c)
{
	c->vp->yield = 1;
	return HV_STATUS_SUCCESS;
}

/* INVVPID (SDM Vol. 3C 31, "INVVPID"): type 0 one address, 1 one VPID. */
static void invvpid(unsigned type, uint16_t vpid, uint64_t gva)
{
	struct {
		uint64_t vpid, gva;
	} desc = { vpid, gva };

	asm volatile("invvpid %0, %1" : : "m"(desc), "r"((uint64_t)type) : "cc", "memory");
}

/* The VPs of the caller's partition a flush names: all, or those in the
 * processor mask. */
static bool flush_targets(const struct hv_call *c, const struct hv_input_flush_virtual_address_space *in,
			  unsigned i)
{
	return c->vp->part->vps[i] && ((in->flags & HV_FLUSH_ALL_PROCESSORS) || (i < 64 && (in->processor_mask >> i) & 1));
}

#define KNOWN_FLUSH_FLAGS (HV_FLUSH_ALL_PROCESSORS | HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES | \
			   HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY)

/* Each VP's translations live under its VPID (partition.c), which a flush
 * drops whole: more than the TLFS asks (one address space, or non-global
 * entries only), which it allows. */
uint16_t hv_call_flush_virtual_address_space(struct hv_call *c)
{
	const struct hv_input_flush_virtual_address_space *in = (const void *)c->in;
	struct hv_partition *p = c->vp->part;

	if (in->flags & ~KNOWN_FLUSH_FLAGS)
		return HV_STATUS_INVALID_PARAMETER;
	for (unsigned i = 0; i < p->nvps; i++)
		if (flush_targets(c, in, i))
			invvpid(1, hv_vp_vpid(p->vps[i]), 0);
	return HV_STATUS_SUCCESS;
}

/* The list's elements: GVA page number in 63:12, more pages in 11:0. */
uint16_t hv_call_flush_virtual_address_list(struct hv_call *c)
{
	const struct hv_input_flush_virtual_address_space *in = (const void *)c->in;
	const uint64_t *gva = (const void *)(c->in + sizeof(*in));
	struct hv_partition *p = c->vp->part;
	unsigned started = c->rep;

	if (in->flags & ~KNOWN_FLUSH_FLAGS)
		return HV_STATUS_INVALID_PARAMETER;
	while (hv_call_more(c, started)) {
		uint64_t page = gva[c->rep] & HV_PAGE_MASK, n = (gva[c->rep] & 0xfff) + 1;

		for (unsigned i = 0; i < p->nvps; i++) {
			if (!flush_targets(c, in, i))
				continue;
			for (uint64_t k = 0; k < n; k++)
				invvpid(0, hv_vp_vpid(p->vps[i]), page + k * HV_PAGE_SIZE);
		}
		c->rep++;
	}
	return HV_STATUS_SUCCESS;
}
