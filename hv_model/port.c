/* Ports and connections (TLFS "Inter-Partition Communication": message
 * and event ports, HvCallCreatePort, HvCallDeletePort, HvCallConnectPort,
 * HvCallDisconnectPort, HvCallPostMessage, HvCallSignalEvent).
 *
 * A port belongs to the partition that receives through it and names a
 * target VP and SINT there; a connection belongs to the partition that
 * sends, and names a port by (port partition, port id).  PostMessage and
 * SignalEvent name only a connection id of the caller's own table.
 *
 * Who may do what (TLFS reference pages of each call):
 *   CreatePort, DeletePort   the port partition itself or its parent
 *                            (and the CreatePort privilege, hvcall.c)
 *   ConnectPort, Disconnect  the connection partition itself or its parent
 *                            (and the ConnectPort privilege); the port must
 *                            name the connection partition as the one
 *                            allowed to connect
 *   PostMessage, SignalEvent the PostMessages / SignalEvents privilege
 * Every partition named must be active (INVALID_PARTITION_STATE).
 *
 * Statuses, beyond those of hv_call_target (INVALID_PARTITION_ID,
 * ACCESS_DENIED):
 *   INVALID_PORT_ID          reserved bits 31:24 of a port id set; no such
 *                            port (Delete, Connect); a port with that id
 *                            exists already (Create)
 *   INVALID_CONNECTION_ID    the same for connection ids; and a PostMessage
 *                            or SignalEvent whose connection is not of the
 *                            call's type
 *   INVALID_PARAMETER        a RsvdZ field or a VTL other than 0; a port
 *                            type hvsim does not know; a SINT above 15; an
 *                            event flag range outside the 2048 flags of a
 *                            SINT or empty; a connection type different
 *                            from the port's; a message type of 0 or with
 *                            bit 31 (the hypervisor's own types) or a
 *                            payload above 240 bytes; a flag number beyond
 *                            the port's flag count
 *   FEATURE_UNAVAILABLE      monitor and doorbell ports (not offered)
 *   INVALID_VP_INDEX         a target VP the port partition does not have
 *   INSUFFICIENT_MEMORY      the port or connection table is full
 *   INSUFFICIENT_BUFFERS     the target SINT's queue is full, or the target
 *                            VP's SynIC or SIM page is off (nothing can
 *                            hold the message: the sender may retry)
 *
 * Delivery: a message goes through hv_synic_post into the target SINT
 * (slot, or its queue with msg_pending), with the port id as the sender
 * (HV_MESSAGE_HEADER's port id).  An event sets flag base + flag number
 * of the target SINT in the SIEF page and fires the SINT only if the flag
 * was clear (hv_synic_signal_event); an event to a VP whose SIEF page is
 * off is lost and the call still succeeds, as an interrupt to a masked
 * SINT is lost (TLFS "SynIC Event Flags").
 *
 * Deleting a port removes every connection to it (later PostMessage or
 * SignalEvent on them: INVALID_CONNECTION_ID), as does deleting either
 * partition. */
#include "hv.h"
#include "rt.h"

/* The port partition or connection partition `id` names for the caller,
 * active. */
static uint16_t active_target(struct hv_call *c, uint64_t id, struct hv_partition **out)
{
	uint16_t st = hv_call_target(c->vp->part, id, true, out);

	if (st)
		return st;
	return (*out)->state == HV_PART_ACTIVE ? HV_STATUS_SUCCESS : HV_STATUS_INVALID_PARTITION_STATE;
}

static struct hv_port *port_find(struct hv_partition *p, uint32_t id)
{
	for (unsigned i = 0; i < HV_MAX_PORTS; i++)
		if (p->ports[i].in_use && p->ports[i].id == id)
			return &p->ports[i];
	return NULL;
}

static struct hv_connection *connection_find(struct hv_partition *p, uint32_t id)
{
	for (unsigned i = 0; i < HV_MAX_CONNECTIONS; i++)
		if (p->connections[i].in_use && p->connections[i].id == id)
			return &p->connections[i];
	return NULL;
}

/* Drop every connection, in any partition, to port `port_id` of the
 * partition `port_partition` (all its ports when port_id is ~0). */
static void disconnect_all(uint64_t port_partition, uint32_t port_id)
{
	for (unsigned s = 0; s < hv_partition_slots(); s++) {
		struct hv_partition *q = hv_partition_at(s);

		if (!q)
			continue;
		for (unsigned i = 0; i < HV_MAX_CONNECTIONS; i++) {
			struct hv_connection *k = &q->connections[i];

			if (k->in_use && k->port_partition == port_partition &&
			    (port_id == ~0u || k->port_id == port_id))
				k->in_use = false;
		}
	}
}

/* HV_PORT_INFO of a message or event port (TLFS "HV_PORT_INFO"). */
static uint16_t port_info(const struct hv_port_info *pi, struct hv_partition *p, struct hv_port *out)
{
	uint32_t sint, vp;

	switch (pi->port_type) {
	case HV_PORT_TYPE_MESSAGE:
		if (pi->u.message_port_info.rsvd_z)
			return HV_STATUS_INVALID_PARAMETER;
		sint = pi->u.message_port_info.target_sint;
		vp = pi->u.message_port_info.target_vp;
		break;
	case HV_PORT_TYPE_EVENT:
		if (pi->u.event_port_info.rsvd_z)
			return HV_STATUS_INVALID_PARAMETER;
		sint = pi->u.event_port_info.target_sint;
		vp = pi->u.event_port_info.target_vp;
		out->base_flag = pi->u.event_port_info.base_flag_number;
		out->flag_count = pi->u.event_port_info.flag_count;
		if (!out->flag_count || (uint32_t)out->base_flag + out->flag_count > HV_EVENT_FLAGS_COUNT)
			return HV_STATUS_INVALID_PARAMETER;
		break;
	case HV_PORT_TYPE_MONITOR:
	case HV_PORT_TYPE_DOORBELL:
		return HV_STATUS_FEATURE_UNAVAILABLE;
	default:
		return HV_STATUS_INVALID_PARAMETER;
	}
	if (pi->padding || sint >= HV_SYNIC_SINT_COUNT)
		return HV_STATUS_INVALID_PARAMETER;
	if (vp >= HV_MAX_VPS || !p->vps[vp])
		return HV_STATUS_INVALID_VP_INDEX;
	out->type = (uint8_t)pi->port_type;
	out->sint = (uint8_t)sint;
	out->vp = vp;
	return HV_STATUS_SUCCESS;
}

uint16_t hv_call_create_port(struct hv_call *c)
{
	const struct hv_input_create_port *in = (const void *)c->in;
	struct hv_partition *p, *conn;
	struct hv_port port = { 0 }, *slot = NULL;
	uint16_t st = active_target(c, in->port_partition_id, &p);

	if (st)
		return st;
	/* The partition allowed to connect: any partition that exists. */
	conn = in->connection_partition_id == HV_PARTITION_ID_SELF ? c->vp->part :
								     hv_partition_find(in->connection_partition_id);
	if (!conn)
		return HV_STATUS_INVALID_PARTITION_ID;
	if (in->port_vtl || in->min_connection_vtl || in->padding)
		return HV_STATUS_INVALID_PARAMETER;
	if (in->port_id & ~HV_PORT_ID_MASK)
		return HV_STATUS_INVALID_PORT_ID;
	st = port_info(&in->port_info, p, &port);
	if (st)
		return st;
	if (port_find(p, in->port_id))
		return HV_STATUS_INVALID_PORT_ID;	/* ids are unique in the port partition */
	for (unsigned i = 0; i < HV_MAX_PORTS && !slot; i++)
		if (!p->ports[i].in_use)
			slot = &p->ports[i];
	if (!slot)
		return HV_STATUS_INSUFFICIENT_MEMORY;
	port.in_use = true;
	port.id = in->port_id;
	port.connection_partition = conn->id;
	*slot = port;
	return HV_STATUS_SUCCESS;
}

uint16_t hv_call_delete_port(struct hv_call *c)
{
	const struct hv_input_delete_port *in = (const void *)c->in;
	struct hv_partition *p;
	struct hv_port *port;
	uint16_t st = active_target(c, in->port_partition_id, &p);

	if (st)
		return st;
	if (in->reserved)
		return HV_STATUS_INVALID_PARAMETER;
	if ((in->port_id & ~HV_PORT_ID_MASK) || !(port = port_find(p, in->port_id)))
		return HV_STATUS_INVALID_PORT_ID;
	port->in_use = false;
	disconnect_all(p->id, in->port_id);
	return HV_STATUS_SUCCESS;
}

uint16_t hv_call_connect_port(struct hv_call *c)
{
	const struct hv_input_connect_port *in = (const void *)c->in;
	const struct hv_connection_info *ci = &in->connection_info;
	struct hv_partition *conn, *p;
	struct hv_connection *slot = NULL;
	struct hv_port *port;
	uint16_t st = active_target(c, in->connection_partition_id, &conn);

	if (st)
		return st;
	/* The port may be any partition's (SELF: the caller's). */
	p = in->port_partition_id == HV_PARTITION_ID_SELF ? c->vp->part : hv_partition_find(in->port_partition_id);
	if (!p)
		return HV_STATUS_INVALID_PARTITION_ID;
	if (p->state != HV_PART_ACTIVE)
		return HV_STATUS_INVALID_PARTITION_STATE;
	if (in->connection_vtl || in->rsvd_z0 || in->rsvd_z1 || in->rsvd_z2 || ci->padding)
		return HV_STATUS_INVALID_PARAMETER;
	if (in->connection_id & ~HV_CONNECTION_ID_MASK)
		return HV_STATUS_INVALID_CONNECTION_ID;
	if ((in->port_id & ~HV_PORT_ID_MASK) || !(port = port_find(p, in->port_id)))
		return HV_STATUS_INVALID_PORT_ID;
	if (port->connection_partition != conn->id)
		return HV_STATUS_ACCESS_DENIED;	/* the port is not for this partition */
	/* HV_CONNECTION_INFO: the port's type, RsvdZ for message and event. */
	if (ci->port_type != port->type || ci->u.message_connection_info.rsvd_z)
		return HV_STATUS_INVALID_PARAMETER;
	if (connection_find(conn, in->connection_id))
		return HV_STATUS_INVALID_CONNECTION_ID;	/* unique in the connection partition */
	for (unsigned i = 0; i < HV_MAX_CONNECTIONS && !slot; i++)
		if (!conn->connections[i].in_use)
			slot = &conn->connections[i];
	if (!slot)
		return HV_STATUS_INSUFFICIENT_MEMORY;
	*slot = (struct hv_connection){ .in_use = true, .id = in->connection_id, .port_id = port->id,
					.port_partition = p->id };
	return HV_STATUS_SUCCESS;
}

uint16_t hv_call_disconnect_port(struct hv_call *c)
{
	const struct hv_input_disconnect_port *in = (const void *)c->in;
	struct hv_partition *conn;
	struct hv_connection *k;
	uint16_t st = active_target(c, in->connection_partition_id, &conn);

	if (st)
		return st;
	/* Doorbell connections do not exist here; any other flag is RsvdZ. */
	if (in->flags)
		return HV_STATUS_INVALID_PARAMETER;
	if ((in->connection_id & ~HV_CONNECTION_ID_MASK) || !(k = connection_find(conn, in->connection_id)))
		return HV_STATUS_INVALID_CONNECTION_ID;
	k->in_use = false;
	return HV_STATUS_SUCCESS;
}

/* The port a connection of the caller's leads to, if it is of `type`. */
static uint16_t resolve(struct hv_call *c, uint32_t id, uint8_t type, struct hv_port **port, struct hv_vp **vp)
{
	struct hv_connection *k = (id & ~HV_CONNECTION_ID_MASK) ? NULL : connection_find(c->vp->part, id);
	struct hv_partition *p = k ? hv_partition_find(k->port_partition) : NULL;

	*port = p ? port_find(p, k->port_id) : NULL;
	if (!*port || (*port)->type != type)
		return HV_STATUS_INVALID_CONNECTION_ID;
	if (p->state != HV_PART_ACTIVE)
		return HV_STATUS_INVALID_PARTITION_STATE;
	*vp = p->vps[(*port)->vp];
	return HV_STATUS_SUCCESS;
}

uint16_t hv_call_post_message(struct hv_call *c)
{
	static struct hv_input_post_message m;
	struct hv_port *port;
	struct hv_vp *vp;
	uint16_t st;

	/* The input page is the hypervisor's copy already; one more copy so
	 * that every field is read once. */
	memcpy(&m, c->in, sizeof(m));
	if (m.reserved || m.message_type == HVMSG_NONE || (m.message_type & 0x80000000u) ||
	    m.payload_size > HV_MESSAGE_PAYLOAD_BYTE_COUNT)
		return HV_STATUS_INVALID_PARAMETER;
	st = resolve(c, m.connection_id, HV_PORT_TYPE_MESSAGE, &port, &vp);
	if (st)
		return st;
	if (hv_synic_post(vp, port->sint, m.message_type, port->id, m.payload, m.payload_size))
		return HV_STATUS_INSUFFICIENT_BUFFERS;
	return HV_STATUS_SUCCESS;
}

uint16_t hv_call_signal_event(struct hv_call *c)
{
	const struct hv_input_signal_event *in = (const void *)c->in;
	uint32_t id = in->connection_id;
	uint16_t flag = in->flag_number;
	struct hv_port *port;
	struct hv_vp *vp;
	uint16_t st;

	if (in->rsvd_z)
		return HV_STATUS_INVALID_PARAMETER;
	st = resolve(c, id, HV_PORT_TYPE_EVENT, &port, &vp);
	if (st)
		return st;
	if (flag >= port->flag_count)
		return HV_STATUS_INVALID_PARAMETER;
	/* -1 (SIEF page off): the event is lost, the call succeeds. */
	hv_synic_signal_event(vp, port->sint, (unsigned)port->base_flag + flag);
	return HV_STATUS_SUCCESS;
}

void hv_ports_partition_deleted(struct hv_partition *p)
{
	disconnect_all(p->id, ~0u);
	memset(p->ports, 0, sizeof(p->ports));
	memset(p->connections, 0, sizeof(p->connections));
}
