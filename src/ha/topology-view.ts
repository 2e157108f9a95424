/** Who is primary, who must never be used again (old primaries), and the change counter. */
export interface TopologyView {
  /** Increases by one per change (failover, switchover, rejoin), shared by a fleet via Redis. */
  generation: number;
  primary: string;
  fenced: readonly string[];
}
