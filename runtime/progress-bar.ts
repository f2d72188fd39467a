// A one-line progress bar on stderr: tasks done, throughput in megavoxels per second, retries, failures.
export class Progress {
  private readonly started = Date.now();
  private voxels = 0;
  private done = 0;
  private lastDraw = 0;
  private lastDecile = -1;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  tick(voxels: number, retries: number, failed: number): void {
    this.done++;
    this.voxels += voxels;
    const now = Date.now();
    if (this.out.isTTY) {
      if (now - this.lastDraw > 100 || this.done === this.total) {
        this.lastDraw = now;
        this.out.write(`\r${this.line(retries, failed)}\x1b[K`);
      }
    } else {
      // Logs (CI, kubectl logs) get a line per tenth, not a redraw storm.
      const decile = Math.floor((10 * this.done) / this.total);
      if (decile !== this.lastDecile) {
        this.lastDecile = decile;
        this.out.write(`${this.line(retries, failed)}\n`);
      }
    }
  }

  finish(): void {
    if (this.out.isTTY) this.out.write('\n');
  }

  megavoxelsPerSecond(): number {
    return this.voxels / 1e6 / Math.max(1e-3, (Date.now() - this.started) / 1000);
  }

  private line(retries: number, failed: number): string {
    const width = 30;
    const filled = Math.round((width * this.done) / Math.max(1, this.total));
    return (
      `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total} tasks  ${this.megavoxelsPerSecond().toFixed(1)} MVx/s` +
      (retries ? `  ${retries} retried` : '') +
      (failed ? `  ${failed} failed` : '')
    );
  }
}
