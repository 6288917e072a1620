/**
 * The OpenAPI 3.0 description served at GET /api/v1/openapi.json. Written by hand, beside the
 * routes it describes, because request bodies are validated by the CLI's parser (for its
 * messages), not by JSON Schema; the schemas here document the shapes.
 */
import { JOB_STATES } from './jobs/job.js';

const json = (schema: object) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errors = {
  '400': {
    description: 'Invalid request (one message naming the field, as the CLI names the option)',
    content: json(ref('Error')),
  },
  '401': { description: 'Not authenticated', content: json(ref('Error')) },
  '404': {
    description: "No such job for this user (also for other users' jobs), or no such page",
    content: json(ref('Error')),
  },
};
const jobId = {
  name: 'jobId',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^job_\\d{13}_[0-9a-f]{16}$' },
};
const page = {
  name: 'page',
  in: 'query',
  required: true,
  schema: { type: 'integer', minimum: 1 },
  description: 'page number, from 1',
};
const fileName = {
  name: 'fileName',
  in: 'query',
  required: false,
  schema: { type: 'string' },
  description: 'download file name',
};

const common = {
  basePath: { type: 'string', description: 'data directory in the store (must lie under an allowed base path)' },
  startTimeMs: { type: 'integer', description: 'window start, epoch ms, inclusive (default 0)' },
  endTimeMs: { type: 'integer', description: 'window end, epoch ms, inclusive (default: now)' },
  maxPackets: { type: 'integer', minimum: 1, description: 'stop after this many packets' },
  numReducers: { type: 'integer', description: 'Metron MapReduce setting: accepted, ignored' },
  baseInterimResultPath: { type: 'string', description: 'Metron setting: accepted, ignored' },
  finalOutputPath: { type: 'string', description: 'Metron setting: accepted, ignored (results stay on the server)' },
};

export function openApiDocument(version: string): object {
  return {
    openapi: '3.0.3',
    info: {
      title: 'pcapline pcap-server',
      version,
      description:
        "Apache Metron's pcap REST API (PcapController) on pcapline's query engine. Authenticate with a session (POST /api/v1/auth/login), Authorization: Bearer <token>, or HTTP Basic.",
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        basic: { type: 'http', scheme: 'basic' },
        session: { type: 'apiKey', in: 'cookie', name: 'pcapline_session' },
      },
      schemas: {
        Error: {
          type: 'object',
          properties: {
            statusCode: { type: 'integer' },
            error: { type: 'string' },
            message: { type: 'string' },
            field: { type: 'string' },
          },
        },
        PcapStatus: {
          type: 'object',
          properties: {
            jobId: { type: 'string' },
            jobStatus: { type: 'string', enum: [...JOB_STATES] },
            description: { type: 'string' },
            percentComplete: { type: 'number' },
            pageTotal: { type: 'integer' },
          },
        },
        FixedPcapRequest: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...common,
            ipSrcAddr: { type: 'string', description: 'address or CIDR block (IPv4/IPv6)' },
            ipDstAddr: { type: 'string' },
            ipSrcPort: { type: ['integer', 'string'], description: 'port or range 1000-2000' },
            ipDstPort: { type: ['integer', 'string'] },
            protocol: { type: ['integer', 'string'], description: 'number or name (tcp, udp, icmp, ...)' },
            packetFilter: { type: 'string', description: 'byteseek pattern searched in the frame' },
            includeReverse: { type: 'boolean' },
          },
        },
        QueryPcapRequest: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...common,
            query: { type: 'string', description: 'filter expression (Stellar subset), empty = all' },
          },
        },
        PdmlField: {
          type: 'object',
          properties: Object.fromEntries(
            ['name', 'pos', 'showname', 'size', 'value', 'show', 'unmaskedvalue', 'hide']
              .map((k) => [k, { type: 'string', nullable: true }] as [string, object])
              .concat([
                ['fields', { type: 'array', nullable: true, items: ref('PdmlField') }],
                ['protos', { type: 'array', nullable: true, items: ref('PdmlProto') }],
              ]),
          ),
        },
        PdmlProto: {
          type: 'object',
          properties: Object.fromEntries(
            ['name', 'pos', 'showname', 'size', 'hide']
              .map((k) => [k, { type: 'string', nullable: true }] as [string, object])
              .concat([['fields', { type: 'array', nullable: true, items: ref('PdmlField') }]]),
          ),
        },
        Pdml: {
          type: 'object',
          properties: {
            version: { type: 'string' },
            creator: { type: 'string' },
            time: { type: 'string' },
            captureFile: { type: 'string' },
            packets: {
              type: 'array',
              items: { type: 'object', properties: { protos: { type: 'array', items: ref('PdmlProto') } } },
            },
          },
        },
      },
    },
    security: [{ bearer: [] }, { basic: [] }, { session: [] }],
    paths: {
      '/api/v1/pcap/fixed': {
        post: {
          summary: 'Submit a fixed-filter query job',
          requestBody: { content: json(ref('FixedPcapRequest')) },
          responses: {
            '200': { description: 'the new job', content: json(ref('PcapStatus')) },
            '429': { description: 'too many jobs for this user' },
            ...errors,
          },
        },
      },
      '/api/v1/pcap/query': {
        post: {
          summary: 'Submit an expression query job',
          requestBody: { content: json(ref('QueryPcapRequest')) },
          responses: {
            '200': { description: 'the new job', content: json(ref('PcapStatus')) },
            '429': { description: 'too many jobs for this user' },
            ...errors,
          },
        },
      },
      '/api/v1/pcap': {
        get: {
          summary: "The user's jobs in a state (all jobs without state)",
          parameters: [
            { name: 'state', in: 'query', required: false, schema: { type: 'string', enum: [...JOB_STATES] } },
          ],
          responses: {
            '200': { description: 'statuses', content: json({ type: 'array', items: ref('PcapStatus') }) },
            ...errors,
          },
        },
      },
      '/api/v1/pcap/jobs': {
        get: {
          summary: "The user's jobs with their requests and times (for the web page)",
          responses: { '200': { description: 'jobs' } },
        },
      },
      '/api/v1/pcap/{jobId}': {
        get: {
          summary: 'Job status',
          parameters: [jobId],
          responses: { '200': { description: 'status', content: json(ref('PcapStatus')) }, ...errors },
        },
      },
      '/api/v1/pcap/{jobId}/config': {
        get: {
          summary: 'The submitted request, as Metron returned it',
          parameters: [jobId],
          responses: { '200': { description: 'map' }, ...errors },
        },
      },
      '/api/v1/pcap/{jobId}/pdml': {
        get: {
          summary: "A page's packets as PDML JSON",
          parameters: [jobId, page],
          responses: { '200': { description: 'PDML', content: json(ref('Pdml')) }, ...errors },
        },
      },
      '/api/v1/pcap/{jobId}/raw': {
        get: {
          summary: 'Download a page (pcap_<jobId>_<page>.pcap)',
          parameters: [jobId, page, fileName],
          responses: { '200': { description: 'pcap', content: { 'application/octet-stream': {} } }, ...errors },
        },
      },
      '/api/v1/pcap/{jobId}/download': {
        get: {
          summary: 'Download the whole result as one pcap stream (pcap_<jobId>.pcap)',
          parameters: [jobId, fileName],
          responses: { '200': { description: 'pcap', content: { 'application/vnd.tcpdump.pcap': {} } }, ...errors },
        },
      },
      '/api/v1/pcap/kill/{jobId}': {
        delete: {
          summary: 'Kill a queued or running job',
          parameters: [jobId],
          responses: { '200': { description: 'status', content: json(ref('PcapStatus')) }, ...errors },
        },
      },
      '/api/v1/auth/login': {
        post: {
          summary: 'Log in (sets the session cookie, returns the CSRF token the page sends as X-CSRF-Token)',
          security: [],
          requestBody: {
            content: json({
              type: 'object',
              properties: { username: { type: 'string' }, password: { type: 'string' } },
            }),
          },
          responses: {
            '200': { description: 'logged in' },
            '401': { description: 'wrong user name or password' },
            '429': { description: 'too many failures' },
          },
        },
      },
      '/api/v1/auth/logout': { post: { summary: 'Log out', responses: { '200': { description: 'logged out' } } } },
      '/api/v1/auth/me': { get: { summary: 'Who is logged in', responses: { '200': { description: 'user' } } } },
    },
  };
}
