"""Lava processes neuromap adds to the simulator (imported only by the Lava backend).

``SpikeDelay`` holds every spike (or graded payload) for ``lag`` steps: the whole-edge lag of a
skip path (``Edge.lag``), the axonal delay Loihi applies before a synapse. Lava has per-synapse
delays only for dense synapses (DelayDense), not for Conv, so this one process serves every edge
kind; it is placed between the source layer's output and the edge's synapse.
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol


class SpikeDelay(AbstractProcess):
    """Output at step t = input at step t - lag (zeros for the first `lag` steps)."""

    def __init__(self, shape: tuple[int, ...], lag: int) -> None:
        if lag < 1:
            raise ValueError("a SpikeDelay needs lag >= 1")
        super().__init__(shape=shape, lag=lag)
        self.s_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.buffer = Var(shape=(lag,) + tuple(shape), init=0)


@implements(proc=SpikeDelay, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeDelayModel(PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    buffer: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def run_spk(self) -> None:
        slot = self.time_step % self.buffer.shape[0]
        self.s_out.send(self.buffer[slot].copy())
        self.buffer[slot] = self.s_in.recv()
