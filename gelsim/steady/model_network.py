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
    def from_sources(cls, network, source_cells, source_rates, output_cells, *, trim_rates=False):
        """Inputs as source cells: input ``i`` excites ``source_cells[i]`` at ``u_i * source_rates[i]``, so
        that the source's ``q`` is ``u_i``.

        With ``trim_rates``, a source that only its input reaches (no other excitation, no inhibition) and
        that sends on less than its rate (its out-weights summing to ``s < r``) is run at rate ``s``,
        excited at ``u_i * s``. Its ``q`` is still ``u_i``, and its steady spike stream is Poisson (Burke's
        theorem) at ``u_i s`` instead of ``u_i r``: the stream its targets receive, ``u_i w`` on a weight
        ``w``, is the same, and the spikes that would have left the network are never simulated (an MLSRNN
        on digits: 1.4x fewer events per decision). ``network`` is changed accordingly. A source that
        anything else reaches keeps its rate: inhibition, for one, would weigh differently against a lower
        rate. A trimmed source is slower, so it forgets an empty start later in time; sampled inference
        measures that from the network.

        Examples
        --------
        >>> import numpy as np, gelsim
        >>> from gelsim.sampled import ModelNetwork
        >>> w = np.zeros((3, 3)); w[0, 2], w[1, 2] = 0.4, 1.0      # source 0 sends on 0.4 of its rate
        >>> net = gelsim.Network(fire_rate=np.ones(3), w_exc=w)
        >>> ModelNetwork.from_sources(net, [0, 1], [1, 1], [2], trim_rates=True).network.fire_rate.tolist()
        [0.4, 1.0, 1.0]
        """
        n, m = network.n_cells, len(source_cells)
        source_cells = np.asarray(source_cells)
        rates = np.asarray(source_rates, float)
        if trim_rates:
            network, rates = _trimmed_sources(network, source_cells, rates)
        input_exc = sp.csr_matrix((rates, (source_cells, np.arange(m))), shape=(n, m))
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


def _trimmed_sources(network, source_cells, rates):
    """``network`` and the sources' ``rates`` with each source that only its input reaches run at the total
    it sends on, where that is below its rate (see :meth:`ModelNetwork.from_sources`)."""
    weights = network.adjacency()    # excitation and inhibition alike
    sends = np.asarray(weights[source_cells].sum(axis=1)).ravel()
    reached = (np.asarray(weights[:, source_cells].sum(axis=0)).ravel()
               + np.asarray(network.ext_exc, float)[source_cells] + np.asarray(network.ext_inh, float)[source_cells])
    trim = (sends > 0) & (sends < rates) & (reached == 0)
    if not trim.any():
        return network, rates
    rates = np.where(trim, sends, rates)
    fire_rate = np.asarray(network.fire_rate, float).copy()
    fire_rate[source_cells] = rates
    return Network(fire_rate=fire_rate, w_exc=network.w_exc, w_inh=network.w_inh, ext_exc=network.ext_exc,
                   ext_inh=network.ext_inh), rates
