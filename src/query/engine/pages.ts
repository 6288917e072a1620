/**
 * Result pages (metron-compat §6.6): a time-ordered packet stream is cut into consecutive pages of
 * `records_per_file` packets, numbered from 1, named `pcap-data-<prefix>+NNNN.pcap` (%04d, so the
 * number simply grows past 9999). No packets means no pages at all.
 */

/** `pcap-data-<prefix>+0001.pcap` for page 1. */
export function pageFileName(prefix: string, page: number): string {
  if (!Number.isInteger(page) || page < 1) throw new RangeError(`page numbers start at 1, not ${page}`);
  return `pcap-data-${prefix}+${String(page).padStart(4, '0')}.pcap`;
}

/** Page number from a page file name (for listings), or null. */
export function parsePageFileName(name: string): { prefix: string; page: number } | null {
  const m = /^pcap-data-(.*)\+(\d{4,})\.pcap$/.exec(name);
  return m === null ? null : { prefix: m[1], page: Number(m[2]) };
}

/** Where the next packet goes. */
export interface PagePlacement {
  /** 1-based page number. */
  page: number;
  /** True for the first packet of a page: close the previous page file, open this one. */
  startsPage: boolean;
  /** 0-based position of the packet within its page. */
  index: number;
}

/**
 * Push-style page splitter: ask where each packet goes as it streams by; nothing is buffered.
 * It also notices order violations (a packet older than the previous one), which would mean the
 * merge upstream is broken; they are counted, not thrown, so the output is still complete.
 */
export class PageSplitter {
  private count = 0;
  private lastTs: bigint | null = null;
  /** Packets seen with a time earlier than their predecessor's. */
  outOfOrder = 0;
  /** Reused result object: place() allocates nothing. */
  private readonly placement: PagePlacement = { page: 0, startsPage: false, index: 0 };

  constructor(readonly recordsPerFile: number) {
    if (!Number.isInteger(recordsPerFile) || recordsPerFile < 1) {
      throw new RangeError(`records per file must be a positive integer, not ${recordsPerFile}`);
    }
  }

  private page = 0;
  private inPage = 0;

  /** Place the next packet (its time only checks order). The returned object is reused. */
  place(tsNs?: bigint): Readonly<PagePlacement> {
    if (tsNs !== undefined) {
      if (this.lastTs !== null && tsNs < this.lastTs) this.outOfOrder++;
      this.lastTs = tsNs;
    }
    if (this.page === 0 || this.inPage === this.recordsPerFile) {
      this.page++;
      this.inPage = 0;
    }
    this.placement.page = this.page;
    this.placement.index = this.inPage;
    this.placement.startsPage = this.inPage === 0;
    this.inPage++;
    this.count++;
    return this.placement;
  }

  /** Ends the current page early: the next packet starts a new one (e.g. its link type differs). */
  breakPage(): void {
    if (this.inPage > 0) this.inPage = this.recordsPerFile;
  }

  /** Packets placed so far. */
  get packets(): number {
    return this.count;
  }

  /** Pages started so far (0 when no packet was placed: no files). */
  get pages(): number {
    return this.page;
  }
}

/** Split a finite list into pages (for small results and tests). */
export function splitIntoPages<T>(items: Iterable<T>, recordsPerFile: number): T[][] {
  const splitter = new PageSplitter(recordsPerFile);
  const pages: T[][] = [];
  for (const item of items) {
    if (splitter.place().startsPage) pages.push([]);
    pages[pages.length - 1].push(item);
  }
  return pages;
}

/**
 * Async form: groups a time-ordered stream into pages of at most `recordsPerFile` items, yielding
 * each page when it is full (so at most one page is held in memory).
 */
export async function* paginate<T>(
  source: AsyncIterable<T>,
  recordsPerFile: number,
): AsyncGenerator<{ page: number; items: T[] }> {
  const splitter = new PageSplitter(recordsPerFile);
  let items: T[] = [];
  let page = 0;
  for await (const item of source) {
    const at = splitter.place();
    if (at.startsPage && items.length > 0) {
      yield { page, items };
      items = [];
    }
    page = at.page;
    items.push(item);
  }
  if (items.length > 0) yield { page, items };
}
