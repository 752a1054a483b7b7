"""Electro-thermal state of many packs of one design, advanced together with numpy.

Arrays are (buses, series elements) for cells and (buses,) for pack-level
quantities. Internally current is positive on *discharge* (the textbook sign
of the equivalent circuit); readings flip it to the VSS sign at the edge.

Per element: OCV(SoC) with a one-state hysteresis (Plett's model), R0 and two
RC pairs, all resistances following Arrhenius in temperature; a lumped thermal
node coupled to its neighbours, to the cold plate (coolant temperature rising
linearly from inlet to outlet along the pack) and weakly to ambient. Heat is
I²R0 plus RC losses plus the reversible (entropic) term, plus fault heat.
The coolant in the pack is one node with mass, integrated exactly, so the
loop is stable at any step even when the pump stops.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from schemas.fleet import PackDesign
from services.simulator import ageing
from services.simulator.params import COOLING, CellParams, CoolingParams, cell_params, ocv

F64 = npt.NDArray[np.float64]
B8 = npt.NDArray[np.bool_]

_BUSBAR_OHM = 0.05e-3  # one healthy cell-to-cell connection
_BALANCE_A = 0.1  # passive bleed through the BMS resistor
_AGEING_EVERY_S = 60.0


class PackGroup:
    """The packs of ``n`` buses sharing one design; see the module docstring for the model."""

    def __init__(
        self,
        design: PackDesign,
        n: int,
        rng: np.random.Generator,
        *,
        age_days: F64,
        target_soh: F64,
        soc0: F64,
        temp0_c: F64,
        cooling: CoolingParams = COOLING,
    ) -> None:
        p = cell_params(design)
        self.design, self.p, self.cool, self.n = design, p, cooling, n
        c = design.cells_series
        self.c = c
        shape = (n, c)
        self.q_new = p.capacity_ah * (1.0 + p.capacity_spread * rng.standard_normal(shape))
        self.r_new = p.r0_ohm * np.exp(p.resistance_spread * rng.standard_normal(shape))
        self.age_mult = np.clip(1.0 + 0.08 * rng.standard_normal(shape), 0.7, 1.4)
        self.q_cal = np.zeros(shape)
        self.q_cyc = np.zeros(shape)
        for b in range(n):
            soh = None if np.isnan(target_soh[b]) else float(target_soh[b])
            self.q_cal[b], self.q_cyc[b] = ageing.initial_fade(
                p, float(age_days[b]), self.age_mult[b], target_soh=soh
            )
        self.cap_factor = np.ones(shape)  # < 1 for a weak cell (fault)
        self.q_ah = np.empty(shape)
        self.r0 = np.empty(shape)
        self.soc = np.clip(soc0[:, None] + 0.005 * rng.standard_normal(shape), 0.0, 1.0)
        self.v1 = np.zeros(shape)
        self.v2 = np.zeros(shape)
        self.hyst = np.zeros(shape)
        self.temp = temp0_c[:, None] + 0.3 * rng.standard_normal(shape)
        self.r_short = np.full(shape, np.inf)  # internal short (fault)
        self.r_conn = np.zeros(shape)  # extra resistance of the connection after a cell (fault)
        self._apply_ageing()
        self.t_cool = temp0_c.copy()
        self.t_in = temp0_c.copy()
        self.chiller_on = np.zeros(n, dtype=np.bool_)
        self.flow_factor = np.ones(n)  # < 1 when the pump fails (fault)
        self.chiller_factor = np.ones(n)  # < 1 when the chiller fan fails (fault)
        self.current = np.zeros(n)
        self.cell_v = ocv(p, self.soc)
        self.v_pack = self.cell_v.sum(axis=1)
        self.balancing = np.zeros(shape, dtype=np.bool_)
        self.ah_since_ageing = np.zeros(n)
        self.s_since_ageing = 0.0
        self.energy_in_kwh = np.zeros(n)
        self.energy_out_kwh = np.zeros(n)
        self.heat_w = np.zeros(shape)
        x = (np.arange(c) + 0.5) / c
        self._x = x  # position along the coolant path, 0 = inlet
        # Sensor matrix: each sensor reads the mean of the cells it sits by.
        groups = design.sensor_cells()
        self.n_sensors = len(groups)
        self._sensor_starts = np.array([g[0] for g in groups], dtype=np.intp)
        self._sensor_counts = np.array([len(g) for g in groups], dtype=np.float64)

    def _apply_ageing(self) -> None:
        self.q_ah = self.q_new * (1.0 - self.q_cal - self.q_cyc) * self.cap_factor
        self.r0 = self.r_new * ageing.resistance_factor(self.p, self.q_cal, self.q_cyc)
        self.refresh()

    def refresh(self) -> None:
        """Recompute temperature-dependent resistances and fault flags.

        Called on every ageing update (each simulated minute) and whenever a
        fault changes; cell temperatures move far too slowly for a minute's
        lag in R(T) to matter, and it saves an exp() over every cell per step.
        """
        arr = ageing.arrhenius(self.p.r_activation_k, self.temp)
        self.r_eff = self.r0 * arr
        self.r1 = self.p.r1_ohm * arr
        self.r2 = self.p.r2_ohm * arr
        self.r_links = self.r_conn.sum(axis=1) + _BUSBAR_OHM * self.c
        self.has_short = bool(np.isfinite(self.r_short).any())

    @property
    def soc_mean(self) -> F64:
        """Pack SoC (0..1) as the BMS reports it: the mean of its elements' SoC."""
        out: F64 = self.soc.mean(axis=1)
        return out

    @property
    def capacity_ah(self) -> F64:
        """Usable pack capacity (Ah), limited by the weakest element."""
        out: F64 = self.q_ah.min(axis=1)
        return out

    r_eff: F64
    r1: F64
    r2: F64
    r_links: F64
    has_short: bool

    def step(self, dt: float, demand_w: F64, charger_kw: F64, pump_on: B8, ambient_c: F64) -> None:
        """Advance every pack by ``dt`` s.

        ``demand_w`` is traction + auxiliary power (positive = discharge);
        ``charger_kw`` > 0 marks buses on a charger, whose current follows a
        CC-CV profile (C-rate and charger power limited, and no more than keeps
        the highest cell at its CV voltage) while the vehicle's own loads are drawn from it.
        """
        p = self.p
        r_eff = self.r_eff
        ocv_then = ocv(p, self.soc)
        e_cell = ocv_then + p.hysteresis_v * self.hyst - self.v1 - self.v2
        e = e_cell.sum(axis=1)
        r_tot = r_eff.sum(axis=1) + self.r_links
        # Power-controlled discharge: I (E - I R) = P, the smaller root.
        disc = np.maximum(e * e - 4.0 * r_tot * demand_w, 0.0)
        i_load = (e - np.sqrt(disc)) / (2.0 * r_tot)
        charging = charger_kw > 0.0
        if charging.any():
            # CC-CV as the BMS does it: the charge current is the largest that keeps
            # the highest element at v_cv by the end of the step (R0 plus the
            # RC pairs' rise within the step), capped by C-rate and charger power.
            a1, a2 = np.exp(-dt / p.tau1_s), np.exp(-dt / p.tau2_s)
            r_step = r_eff + self.r1 * (1.0 - a1) + self.r2 * (1.0 - a2)
            e_step = e_cell + self.v1 * (1.0 - a1) + self.v2 * (1.0 - a2)
            i_cv = (np.maximum(p.v_max - 0.05 - e_step, 0.0) / r_step).min(axis=1)
            i_max = np.minimum(
                charger_kw * 1000.0 / np.maximum(self.v_pack, 1.0), p.charge_c_rate * p.capacity_ah
            )
            i_load = np.where(charging, i_load - np.minimum(i_max, i_cv + i_load), i_load)
        i = i_load
        self.current = i
        i_sc = ocv_then / self.r_short if self.has_short else 0.0
        # An internal short's current flows through its cell's own resistances
        # (the equivalent circuit with the short across the terminals, as in the
        # internal-short literature): it drains the cell, and its terminal
        # voltage drops by I_sc (R0 + RC). The balancing bleed is outside the cell.
        i_int = i[:, None] + i_sc
        i_cell = i_int
        if charging.any() or self.balancing.any():
            self._balance(charging)
            i_cell = i_cell + _BALANCE_A * self.balancing
        self.soc = np.clip(self.soc - i_cell * dt / (3600.0 * self.q_ah), 0.0, 1.0)
        a1, a2 = np.exp(-dt / p.tau1_s), np.exp(-dt / p.tau2_s)
        r1, r2 = self.r1, self.r2
        col = i[:, None]
        self.v1 = self.v1 * a1 + i_int * r1 * (1.0 - a1)
        self.v2 = self.v2 * a2 + i_int * r2 * (1.0 - a2)
        decay = np.exp(-p.hysteresis_rate * np.abs(i) * dt / (3600.0 * p.capacity_ah))[:, None]
        self.hyst = -np.sign(col) + (self.hyst + np.sign(col)) * decay
        ocv_now = ocv(p, self.soc)
        self.cell_v = ocv_now + p.hysteresis_v * self.hyst - i_int * r_eff - self.v1 - self.v2
        t_k = self.temp + 273.15
        heat = (
            col * col * (r_eff + self.r_conn)
            + self.v1 * self.v1 / r1
            + self.v2 * self.v2 / r2
            - col * t_k * p.entropic_v_per_k
        )
        if self.has_short:
            heat = heat + ocv_now * i_sc
        self.heat_w = heat
        self._thermal(dt, heat, pump_on, ambient_c)
        self.v_pack = self.cell_v.sum(axis=1) - i * self.r_links
        pw = self.v_pack * i * dt / 3.6e6
        self.energy_out_kwh += np.maximum(pw, 0.0)
        self.energy_in_kwh += np.maximum(-pw, 0.0)
        self.ah_since_ageing += np.abs(i) * dt / 3600.0
        self.s_since_ageing += dt
        if self.s_since_ageing >= _AGEING_EVERY_S:
            self._age()

    def _balance(self, charging: B8) -> None:
        # Passive top balancing: while charging above 80 % SoC, bleed every
        # element more than 10 mV above the lowest one.
        active = charging & (self.soc_mean > 0.8)
        vmin = self.cell_v.min(axis=1, keepdims=True)
        self.balancing = active[:, None] & (self.cell_v > vmin + 0.010)

    def _thermal(self, dt: float, heat: F64, pump_on: B8, ambient_c: F64) -> None:
        p, cool = self.p, self.cool
        flow = cool.flow_kg_s * self.flow_factor * pump_on
        # Convective film coefficient ~ flow^0.8; stagnant coolant still conducts a little.
        ha = p.ha_coolant_w_per_k * np.maximum((flow / cool.flow_kg_s) ** 0.8, 0.15)
        t_out = 2.0 * self.t_cool - self.t_in
        t_local = self.t_in[:, None] + (t_out - self.t_in)[:, None] * self._x
        q_cool = ha[:, None] * (self.temp - t_local)
        t = self.temp
        nb = np.zeros_like(t)
        d = t[:, 1:] - t[:, :-1]
        nb[:, :-1] += d
        nb[:, 1:] -= d
        q = (
            heat
            - q_cool
            + p.k_neighbour_w_per_k * nb
            + p.ha_ambient_w_per_k * (ambient_c[:, None] - t)
        )
        self.temp = t + q * dt / (p.mass_kg * p.cp_j_per_kgk)
        # Coolant node in the pack: M cp dT/dt = Σq - 2 mdot cp (T - T_in), integrated exactly.
        m_cp = cool.coolant_mass_kg * cool.cp_coolant
        g = 2.0 * np.maximum(flow, 1e-6) * cool.cp_coolant
        q_sum = q_cool.sum(axis=1)
        eq = self.t_in + q_sum / g
        self.t_cool = eq + (self.t_cool - eq) * np.exp(-g * dt / m_cp)
        t_out = 2.0 * self.t_cool - self.t_in
        # Chiller with hysteresis on the hottest cell; capacity-limited, and
        # weaker when its fan fails. Without it the loop drifts toward ambient.
        tmax = self.temp.max(axis=1)
        self.chiller_on = pump_on & (
            (tmax > cool.chiller_on_above_c) | (self.chiller_on & (tmax > cool.chiller_off_below_c))
        )
        g_loop = np.maximum(flow, 1e-6) * cool.cp_coolant
        cap_w = cool.chiller_kw * 1000.0 * self.chiller_factor
        chilled = np.maximum(cool.chiller_setpoint_c, t_out - cap_w / g_loop)
        passive = t_out - (t_out - ambient_c) * cool.radiator_share * self.chiller_factor
        target = np.where(self.chiller_on, chilled, passive)
        target = np.where(flow > 0, target, 0.5 * (self.t_cool + ambient_c))
        self.t_in = target + (self.t_in - target) * np.exp(-dt / cool.inlet_tau_s)

    def _age(self) -> None:
        dt_days = self.s_since_ageing / 86400.0
        c_rate = (
            self.ah_since_ageing / max(self.s_since_ageing / 3600.0, 1e-9)
        ) / self.p.capacity_ah
        self.q_cal, self.q_cyc = ageing.step_fade(
            self.p,
            self.q_cal,
            self.q_cyc,
            self.age_mult,
            self.temp,
            self.soc,
            dt_days,
            self.ah_since_ageing[:, None],
            c_rate[:, None],
        )
        self._apply_ageing()
        self.ah_since_ageing[:] = 0.0
        self.s_since_ageing = 0.0

    def sensor_temps(self) -> F64:
        """True temperature at each sensor (buses × sensors): the mean of its cells."""
        # Sensor groups are contiguous runs of cells: a segmented sum, no matrix product.
        out: F64 = np.add.reduceat(self.temp, self._sensor_starts, axis=1) / self._sensor_counts
        return out

    def outlet_c(self) -> F64:
        """Coolant outlet temperature per bus."""
        out: F64 = 2.0 * self.t_cool - self.t_in
        return out


def params_of(group: PackGroup) -> CellParams:
    """The cell parameters a group was built with."""
    return group.p
