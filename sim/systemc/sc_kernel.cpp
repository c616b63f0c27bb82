// SystemC timing kernel: one thread per logical processor with a TLM-2.0
// quantum keeper (loosely timed), and one thread that runs device events
// scheduled through struct sim_clock.  The C models never see SystemC.
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <systemc>
#include <tlm_utils/tlm_quantumkeeper.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <queue>
#include <vector>

extern "C" {
#include "cpu.h"
#include "machine.h"
#include "sc_kernel.h"
}

using namespace sc_core;

namespace {

struct pending_event {
	uint64_t when, seq, id;
	sim_event_fn *fn;
	void *opaque;
	bool operator>(const pending_event &o) const
	{
		return when != o.when ? when > o.when : seq > o.seq;
	}
};

struct kernel_state {
	std::priority_queue<pending_event, std::vector<pending_event>, std::greater<pending_event>> q;
	std::vector<uint64_t> cancelled;	// ids, sorted lazily
	uint64_t seq = 0;
	sc_event *wake = nullptr;		// created at elaboration
	struct machine *m = nullptr;
	struct cpu *running = nullptr;		// LP inside cpu_run
	uint64_t khz = 1;
	std::vector<sc_event *> lp_wake;	// per LP, created at elaboration
};

kernel_state K;

uint64_t now_ps()
{
	if (K.running)
		return sim_cycles_to_ps(cpu_cycles(K.running), K.khz);
	return sc_time_stamp().value();	// default resolution: 1 ps
}

uint64_t clock_now(void *) { return now_ps(); }

// The first LP cycle at or after `ps`.
uint64_t ceil_cycles(uint64_t ps)
{
	uint64_t c = sim_ps_to_cycles(ps, K.khz);

	return sim_cycles_to_ps(c, K.khz) < ps ? c + 1 : c;
}

uint64_t clock_schedule(void *, uint64_t when, sim_event_fn *fn, void *opaque)
{
	uint64_t now = now_ps();

	if (when < now)
		when = now;
	K.seq++;
	K.q.push(pending_event{ when, K.seq, K.seq, fn, opaque });
	if (K.wake)
		K.wake->notify(SC_ZERO_TIME);
	// An LP running past this time returns in time for it.
	if (K.running)
		cpu_limit_run(K.running, ceil_cycles(when));
	return K.seq;
}

void clock_cancel(void *, uint64_t id) { K.cancelled.push_back(id); }

bool is_cancelled(uint64_t id)
{
	for (size_t i = 0; i < K.cancelled.size(); i++) {
		if (K.cancelled[i] == id) {
			K.cancelled[i] = K.cancelled.back();
			K.cancelled.pop_back();
			return true;
		}
	}
	return false;
}

const sim_clock_ops ops = { clock_now, clock_schedule, clock_cancel };
sim_clock the_clock = { &ops, nullptr };

SC_MODULE(event_thread)
{
	sc_event wake;

	SC_CTOR(event_thread)
	{
		K.wake = &wake;
		SC_THREAD(run);
	}

	void run()
	{
		for (;;) {
			if (K.q.empty()) {
				wait(wake);
				continue;
			}
			pending_event e = K.q.top();
			uint64_t now = sc_time_stamp().value();

			if (e.when > now) {
				wait(sc_time::from_value(e.when - now), wake);
				continue;
			}
			K.q.pop();
			if (!is_cancelled(e.id))
				e.fn(e.opaque);
		}
	}
};

SC_MODULE(lp_thread)
{
	struct cpu *cpu = nullptr;
	sc_event wake;

	SC_HAS_PROCESS(lp_thread);
	lp_thread(sc_module_name n, struct cpu *c) : sc_module(n), cpu(c)
	{
		K.lp_wake.push_back(&wake);
		SC_THREAD(run);
	}

	void run()
	{
		tlm_utils::tlm_quantumkeeper qk;
		uint64_t quantum = machine_quantum(K.m), limit = machine_max_cycles(K.m);

		qk.reset();
		while (!machine_stopping(K.m)) {
			enum cpu_run_state st = cpu_state(cpu);

			if (st == CPU_RUNNING) {
				// A lone LP has nobody to keep in step with: it runs to
				// the next device event.  Several LPs run a quantum at a
				// time.  Either way no LP runs past a pending event.
				uint64_t cyc = cpu_cycles(cpu);
				uint64_t until = machine_lp_count(K.m) > 1 ? cyc + quantum : UINT64_MAX / 2;

				if (!K.q.empty()) {
					uint64_t ev = ceil_cycles(K.q.top().when);

					until = std::min(until, std::max(ev, cyc + 1));
				}
				if (limit && until > limit)
					until = limit;
				K.running = cpu;
				st = cpu_run(cpu, until);
				K.running = nullptr;
				if (limit && cpu_cycles(cpu) >= limit) {
					machine_note_end(K.m, MACHINE_END_LIMIT,
							 "LP%u reached the cycle limit (%llu cycles)", cpu_index(cpu),
							 (unsigned long long)limit);
					break;
				}
				uint64_t local = sim_cycles_to_ps(cpu_cycles(cpu), K.khz);
				uint64_t global = sc_time_stamp().value();

				bool event_due = !K.q.empty() && K.q.top().when <= local;

				qk.set(sc_time::from_value(local > global ? local - global : 0));
				if (qk.need_sync() || event_due || st != CPU_RUNNING)
					qk.sync();
			} else if (st == CPU_SHUTDOWN) {
				machine_note_end(K.m, MACHINE_END_SHUTDOWN, "LP%u shut down: %s", cpu_index(cpu),
						 cpu_shutdown_reason(cpu));
				break;
			} else {
				// HLT or wait-for-SIPI: idle until an interrupt source
				// wakes this LP (its LAPIC's kick notifies `wake`).
				if (cpu_poll_wake(cpu) == CPU_RUNNING)
					continue;
				uint64_t dl = cpu_wake_deadline(cpu);

				qk.sync();
				if (dl != UINT64_MAX) {
					uint64_t at = sim_cycles_to_ps(dl, K.khz), now = sc_time_stamp().value();

					if (at > now)
						wait(sc_time::from_value(at - now), wake);
				} else {
					wait(wake);
				}
				// The first cycle at or after the wake-up: a deadline reached
				// by a timed wait is not one cycle short.
				cpu_idle_until(cpu, ceil_cycles(sc_time_stamp().value()));
				qk.reset();
			}
		}
		sc_stop();
	}
};

}	// namespace

extern "C" void sc_kernel_wake(unsigned lp)
{
	if (lp >= K.lp_wake.size())
		return;
	// The sender may run ahead of SystemC time within its quantum: the
	// LP wakes at the sender's time, not before it.
	uint64_t now = now_ps(), global = sc_time_stamp().value();

	K.lp_wake[lp]->notify(sc_time::from_value(now > global ? now - global : 0));
}

extern "C" struct sim_clock *sc_kernel_clock(void)
{
	return &the_clock;
}

extern "C" int sc_kernel_run(struct machine *m)
{
	K.m = m;
	K.khz = machine_khz(m);
	// sc_stop() is how a run ends; its "stopped by user" note is noise.
	sc_report_handler::set_actions("/OSCI/SystemC", SC_INFO, SC_DO_NOTHING);
	tlm_utils::tlm_quantumkeeper::set_global_quantum(
		sc_time::from_value(sim_cycles_to_ps(machine_quantum(m), K.khz)));

	std::unique_ptr<event_thread> ev(new event_thread("events"));
	std::vector<std::unique_ptr<lp_thread>> lps;

	for (unsigned i = 0; i < machine_lp_count(m); i++) {
		char name[16];

		std::snprintf(name, sizeof(name), "lp%u", i);
		lps.emplace_back(new lp_thread(name, machine_lp(m, i)));
	}
	sc_start();
	// Returning without a stop means every thread is waiting and no event
	// is scheduled: nothing can ever wake an LP.
	if (!machine_stopping(m))
		machine_note_end(m, MACHINE_END_IDLE,
				 "every LP is halted with interrupts it cannot receive; nothing can wake it");
	return 0;
}
