"""From decisions to incidents: grouping, lifecycle, topology, ranking, inhibition, rendering."""
