"""Supply concentration: HHI from published production and from the registry's flows,
and a buyer's supply traced upstream to the mines.

- `hhi`: the index, its bands and the shares behind it;
- `published`: published production statistics;
- `flows`: the registry's recorded flows at one stage;
- `graph`: a buyer's upstream graph, loaded in one recursive SQL query;
- `rules`: the predicates a trace carries along each path;
- `propagation`: the trace arithmetic, level by level in topological order, in arrays.
"""

from .flows import FLOW_VIEWS, flow_concentration, flow_concentrations_payload
from .graph import (
    CompanyInfo,
    Edge,
    Graph,
    Link,
    MineInfo,
    load_graph,
    upstream_edges_cte,
    upstream_edges_per_tier,
    upstream_sql,
)
from .hhi import (
    Band,
    Concentration,
    ConcentrationInputError,
    Share,
    band_for,
    band_for_range,
    concentration_of,
    hhi,
    hhi_rule,
)
from .propagation import PROCESSING_STAGES, Cycle, FlowMass, Trace, trace
from .published import UNLISTED, production_concentration, production_series

__all__ = [
    "FLOW_VIEWS",
    "PROCESSING_STAGES",
    "UNLISTED",
    "Band",
    "CompanyInfo",
    "Concentration",
    "ConcentrationInputError",
    "Cycle",
    "Edge",
    "FlowMass",
    "Graph",
    "Link",
    "MineInfo",
    "Share",
    "Trace",
    "band_for",
    "band_for_range",
    "concentration_of",
    "flow_concentration",
    "flow_concentrations_payload",
    "hhi",
    "hhi_rule",
    "load_graph",
    "production_concentration",
    "production_series",
    "trace",
    "upstream_edges_cte",
    "upstream_edges_per_tier",
    "upstream_sql",
]
