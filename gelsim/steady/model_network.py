"""A model's network without its input: the cells an instance's inputs drive, and Eq. (1) per input.

A classifier that can run as a spiking network describes itself once as a :class:`ModelNetwork`; each
instance only changes the external rates through which its input arrives. The classifiers' maths build
it (so it lives below them and below sampled inference, which runs it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..network import Network
from .solver import solve


@dataclass(frozen=True)
class ModelNetwork:
    """A model's spiking network without its input: what :func:`sample_outputs` needs from a classifier.

    An instance whose scaled inputs are ``u`` (a vector) runs ``network`` with external excitation
    ``network.ext_exc + input_exc @ u`` and external inhibition ``network.ext_inh + input_inh @ u``: the
    inputs are Poisson arrivals at the cells they drive (source cells whose ``q`` is the input, or the
    first computing cells directly). ``output_cells`` are the class outputs in the order of ``classes_``.
    """

    network: object
    input_exc: sp.csr_matrix          # (n_cells, n_inputs)
    input_inh: sp.csr_matrix          # (n_cells, n_inputs)
    output_cells: np.ndarray

    @classmethod
    def from_sources(cls, network, source_cells, source_rates, output_cells):
        """Inputs as source cells: input ``i`` excites ``source_cells[i]`` at ``u_i * source_rates[i]``."""
        n, m = network.n_cells, len(source_cells)
        input_exc = sp.csr_matrix((np.asarray(source_rates, float), (np.asarray(source_cells), np.arange(m))),
                                  shape=(n, m))
        return cls(network, input_exc, sp.csr_matrix((n, m)), np.asarray(output_cells))

    def ext_exc(self, u):
        return np.asarray(self.network.ext_exc, float) + self.input_exc @ np.asarray(u, float).ravel()

    def ext_inh(self, u):
        return np.asarray(self.network.ext_inh, float) + self.input_inh @ np.asarray(u, float).ravel()

    def solve(self, u):
        """Eq. (1)'s solution ``q`` over all cells for the inputs ``u``."""
        return solve(self.network, ext_exc=self.ext_exc(u), ext_inh=self.ext_inh(u)).q

    def network_at(self, u):
        """The network of one instance: ``network`` with the inputs ``u`` as its external rates."""
        net = self.network
        return Network(fire_rate=net.fire_rate, w_exc=net.w_exc, w_inh=net.w_inh, ext_exc=self.ext_exc(u),
                       ext_inh=self.ext_inh(u))
