// Named event counters. Every dropped packet increments a counter with the reason; nothing
// malformed is thrown through the stack.

export class Counters {
  private readonly map = new Map<string, number>()
  inc(name: string, by = 1): void {
    this.map.set(name, (this.map.get(name) ?? 0) + by)
  }
  get(name: string): number {
    return this.map.get(name) ?? 0
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.map.entries()].sort(([a], [b]) => (a < b ? -1 : 1)))
  }
}
