/**
 * Types for the parts of `webhdfs` 1.2.0 (harrisiirak/webhdfs, untyped CommonJS) that this project
 * uses. Paths are put into the URL unencoded: callers must percent-encode each segment.
 */
declare module 'webhdfs' {
  import type { Agent, ClientRequest, IncomingMessage } from 'node:http';

  namespace webhdfs {
    interface ClientOptions {
      host?: string;
      port?: number | string;
      /** REST prefix, '/webhdfs/v1' by default. */
      path?: string;
      /** Sent as `user.name`. */
      user?: string;
    }
    /** Merged into every call of the `request` library. */
    interface RequestParams {
      agent?: Agent;
      timeout?: number;
      headers?: Record<string, string>;
    }
    /** The `request` library's Request: an old-style stream (response, data, end, error, complete). */
    interface LibRequest {
      on(event: 'response', listener: (res: IncomingMessage) => void): this;
      on(event: 'data', listener: (chunk: Buffer) => void): this;
      on(event: 'end' | 'finish' | 'close', listener: () => void): this;
      on(event: 'error', listener: (err: Error) => void): this;
      /** The current node:http request (after redirects, the DataNode's). Internal to `request`. */
      req?: ClientRequest;
      pause(): void;
      resume(): void;
      abort(): void;
    }
    /** GETFILESTATUS / LISTSTATUS entry. */
    interface HdfsFileStatus {
      pathSuffix: string;
      type: 'FILE' | 'DIRECTORY' | 'SYMLINK';
      length: number;
      modificationTime: number;
      accessTime: number;
      blockSize: number;
      replication: number;
      permission: string;
      owner: string;
      group: string;
    }
    type Callback<T = void> = (err: Error | null, value?: T) => void;
    interface Client {
      mkdir(path: string, mode: string | null, callback: Callback): LibRequest;
      stat(path: string, callback: Callback<HdfsFileStatus>): LibRequest;
      /** OPEN; `opts` become query parameters (offset, length). */
      createReadStream(path: string, opts?: Record<string, string | number>): LibRequest;
    }
  }
  const webhdfs: {
    createClient(opts?: webhdfs.ClientOptions, requestParams?: webhdfs.RequestParams): webhdfs.Client;
  };
  export = webhdfs;
}
