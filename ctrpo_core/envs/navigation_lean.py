"""The navigation tasks' per-step Python, vectorised: the pseudo-lidar and the hazards' distances for all
objects at once, and MuJoCo's name lookups cached.

In a lean navigation world (sg_lean.py) about three quarters of a step was Safety-Gymnasium's Python, not
physics: each lidar reading loops over the objects, rebuilds the agent's position and rotation from a
named-body lookup per object (``_ego_xy``), and each object list is rebuilt by one named lookup per object
(``data.body(f"hazard{i}")``); the hazards' cost measures each distance the same way. Here:

- the agent's ``pos``/``mat``, each obstacle's ``pos`` and the agent's ``get_sensor`` read MuJoCo's arrays
  through ids looked up once per compiled model (a reset compiles a new one): the same numbers;
- ``_obs_lidar_pseudo`` reads the agent's frame once and fills the bins with plain floats; the float
  operations that make a reading stay numpy's, as published (one vector-matrix product per object,
  numpy's complex ``abs`` and ``angle``: Python's ``abs`` and ``math.hypot`` differ in the last bit);
- the Button tasks' ``goal_achieved`` and the buttons' and gremlins' costs look at all contacts' geom
  ids at once, through masks of the geoms' names made once per model (published: two name lookups and
  a sort per contact), and add their penalties one by one as published;
- the hazards' cost takes all distances in one array expression with the same float operations per
  hazard and adds the penalties in hazard order: the same costs, bit for bit.

Physics is untouched: the same MuJoCo calls in the same order. tests/integration/test_sg_lean.py steps each
task both ways and requires bit-identical observations, rewards, costs and episode ends.
"""

from __future__ import annotations

import math

import numpy as np

# obstacle class name → the body names of its objects, as its published ``pos`` property reads them
_MANY = {
    "Hazards": "hazard{}",
    "Vases": "vase{}",
    "Pillars": "pillar{}",
    "Buttons": "button{}",
    "Gremlins": "gremlin{}obj",
    "Apples": "apple{}",
    "Oranges": "orange{}",
}
_ONE = {"Goal": "goal", "PushBox": "push_box"}


def _per_model(obj, slot: str, key: tuple, build):
    """``build()``, made once per ``key`` (which holds the compiled model: a reset compiles a new one) and
    kept on ``obj`` under ``slot``."""
    cached = obj.__dict__.get(slot)
    if cached is None or cached[0] != key:
        cached = obj.__dict__[slot] = (key, build())
    return cached[1]


def _ids(obj, names_of) -> np.ndarray:
    """The body ids of ``names_of(obj)`` in the model now loaded."""
    model = obj.engine.model
    return _per_model(
        obj,
        "_ctrpo_body_ids",
        (model,),
        lambda: np.array([model.body(name).id for name in names_of(obj)], dtype=np.intp),
    )


def _many_pos(template: str):
    def pos(self):
        return list(self.engine.data.xpos[_ids(self, lambda o: [template.format(i) for i in range(o.num)])])

    return property(pos)


def _one_pos(name: str):
    def pos(self):
        return self.engine.data.xpos[_ids(self, lambda o: [name])[0]].copy()

    return property(pos)


def _agent_pos(self):
    return self.engine.data.xpos[_ids(self, lambda o: ["agent"])[0]].copy()


def _agent_mat(self):
    return self.engine.data.xmat[_ids(self, lambda o: ["agent"])[0]].copy().reshape(3, -1)


def _get_sensor(self, name: str) -> np.ndarray:
    model = self.engine.model
    spans = _per_model(self, "_ctrpo_sensors", (model,), dict)  # name → (start, end) in sensordata
    span = spans.get(name)
    if span is None:
        sensor = model.sensor(name).id
        adr = int(model.sensor_adr[sensor])
        span = spans[name] = (adr, adr + int(model.sensor_dim[sensor]))
    return self.engine.data.sensordata[span[0] : span[1]].copy()


def _hazards_cost(self) -> dict:
    """``Hazards.cal_cost`` with the distances of all hazards in one expression (the same per-hazard
    float operations as ``dist_xy``) and the penalties added in hazard order, as published."""
    cost = {}
    if not self.is_constrained:
        return cost
    cost["cost_hazards"] = 0
    positions = np.asarray(self.pos)
    agent = self.agent.pos
    distances = np.sqrt(np.sum(np.square(positions[:, :2] - agent[:2]), axis=1))
    for h_dist in distances[distances <= self.size]:
        cost["cost_hazards"] += self.cost * (self.size - h_dist)
    return cost


def _lidar_pseudo(self, positions) -> np.ndarray:
    """``_obs_lidar_pseudo`` with the agent's frame read once and plain floats per object: the same
    float operations as published (one vector-matrix product per object, numpy's complex ``abs`` and
    ``angle``), so the same readings bit for bit."""
    conf = self.lidar_conf
    positions = np.array(positions, ndmin=2, dtype=np.float64)
    obs = [0.0] * conf.num_bins
    world = np.zeros((positions.shape[0], 3))
    world[:, :2] = positions[:, :2]  # a 3-vector's height is dropped, as published
    world -= self.agent.pos
    mat = self.agent.mat
    two_pi = np.pi * 2
    bin_size = two_pi / conf.num_bins
    z = np.empty(len(world), dtype=np.complex128)  # X, Y as real, imaginary components
    for i, row in enumerate(world):
        z[i] = complex(*np.matmul(row, mat)[:2])  # one product per object, as _ego_xy
    dists = np.abs(z).tolist()  # numpy's complex abs (not hypot: they differ in the last bit)
    angles = (np.angle(z) % two_pi).tolist()
    for dist, angle in zip(dists, angles):
        index = int(angle / bin_size)
        if conf.max_dist is None:
            sensor = math.exp(-conf.exp_gain * dist)
        else:
            sensor = max(0, conf.max_dist - dist) / conf.max_dist
        obs[index] = max(obs[index], sensor)
        if conf.alias:
            alias = (angle - bin_size * index) / bin_size
            plus, minus = (index + 1) % conf.num_bins, (index - 1) % conf.num_bins
            obs[plus] = max(obs[plus], alias * sensor)
            obs[minus] = max(obs[minus], (1 - alias) * sensor)
    return np.array(obs)


def _geom_masks(obj, key: tuple, rules) -> dict:
    """Masks over the model ``key[0]``'s geoms, one per rule of ``rules()`` (a predicate on the geom's
    name), made once per ``key``."""

    def build() -> dict:
        names = [key[0].geom(g).name for g in range(key[0].ngeom)]
        return {rule: np.array([test(n) for n in names], dtype=bool) for rule, test in rules().items()}

    return _per_model(obj, "_ctrpo_geom_masks", key, build)


def _touching(data, mask: np.ndarray) -> np.ndarray:
    """Per contact now: whether either of its two geoms is in ``mask``."""
    contacts = data.contact
    return mask[contacts.geom1[: data.ncon]] | mask[contacts.geom2[: data.ncon]]


def _add(total, value, times: int):
    """``total + value + value + ...`` (``times`` additions, in order, as the published loops add)."""
    for _ in range(times):
        total += value
    return total


def _button_pressed(self) -> bool:
    """The Button tasks' ``goal_achieved``: some contact pairs a geom named as the goal button with one named
    as a geom of the agent (published: two name lookups and a sort per contact, twice per step)."""
    goal = f"button{self.buttons.goal_button}"
    agent = self.agent.body_info.geom_names
    masks = _geom_masks(self, (self.model, goal), lambda: {"goal": lambda n: n == goal, "agent": lambda n: n in agent})
    return bool((_touching(self.data, masks["goal"]) & _touching(self.data, masks["agent"])).any())


def _buttons_cost(self) -> dict:
    """``Buttons.cal_cost``: ``cost`` for each contact of the agent with a button other than the goal."""
    assert self.goal_button is not None, "Please make sure this method can get information about goal button."
    cost = {}
    if not self.is_constrained or not self.timer == 0:
        return cost
    goal = f"button{self.goal_button}"
    agent = self.agent.body_info.geom_names
    masks = _geom_masks(
        self,
        (self.engine.model, goal),
        lambda: {
            "button": lambda n: n.startswith("button"),
            "goal": lambda n: n == goal,
            "agent": lambda n: n in agent,
        },
    )
    data = self.engine.data
    hits = _touching(data, masks["button"]) & _touching(data, masks["agent"]) & ~_touching(data, masks["goal"])
    cost["cost_buttons"] = _add(0, self.cost, int(hits.sum()))
    return cost


def _gremlins_cost(self) -> dict:
    """``Gremlins.cal_cost``: ``contact_cost`` for each contact of the agent with a gremlin."""
    cost = {}
    if not self.is_constrained:
        return cost
    agent = self.agent.body_info.geom_names
    masks = _geom_masks(
        self,
        (self.engine.model,),
        lambda: {"gremlin": lambda n: n.startswith("gremlin"), "agent": lambda n: n in agent},
    )
    data = self.engine.data
    hits = _touching(data, masks["gremlin"]) & _touching(data, masks["agent"])
    cost["cost_gremlins"] = _add(0, self.contact_cost, int(hits.sum()))
    return cost


def _swap_class(obj, attributes: dict) -> None:
    """Give ``obj`` a subclass of its class with ``attributes`` (properties can only live on a class)."""
    cls = type(obj)
    obj.__class__ = type(f"Lean{cls.__name__}", (cls,), {"__module__": __name__, **attributes})


def make_lean(task) -> None:
    """Vectorise ``task``'s per-step Python (a Safety-Gymnasium navigation task, once; idempotent)."""
    if getattr(task, "_ctrpo_lean", False):
        return
    task._ctrpo_lean = True
    _swap_class(task.agent, {"pos": property(_agent_pos), "mat": property(_agent_mat), "get_sensor": _get_sensor})
    for obstacle in task._obstacles:
        name = type(obstacle).__name__
        extra = {}
        if name in _MANY:
            extra["pos"] = _many_pos(_MANY[name])
        elif name in _ONE:
            extra["pos"] = _one_pos(_ONE[name])
        extra.update(
            {
                "Hazards": {"cal_cost": _hazards_cost},
                "Buttons": {"cal_cost": _buttons_cost},
                "Gremlins": {"cal_cost": _gremlins_cost},
            }.get(name, {})
        )
        if extra:
            _swap_class(obstacle, extra)
    attributes = {}
    if task.lidar_conf.type == "pseudo":
        attributes["_obs_lidar_pseudo"] = _lidar_pseudo
    if hasattr(task, "buttons") and hasattr(type(task), "goal_achieved"):  # the Button tasks
        attributes["goal_achieved"] = property(_button_pressed)
    if attributes:
        _swap_class(task, attributes)
