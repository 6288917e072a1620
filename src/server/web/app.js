// The page's controller: login, the query form, the job list (polled while jobs run), and the
// results of one job (a PDML page as a table, a packet's layers and bytes, downloads).
import * as api from './api.js';
import { hexDump, highlight, parsePcap } from './pcap.js';
import { el, formatTime, layerTree, querySummary, summarize } from './views.js';

const $ = (id) => document.getElementById(id);
const state = { mode: 'fixed', jobs: [], open: null, page: 1, pdml: null, raw: null, poll: null };

async function start() {
  wireLogin();
  wireForm();
  wireResults();
  try {
    showApp(await api.me());
  } catch (err) {
    if (err.status === 401) showLogin();
    else throw err;
  }
}

function showLogin() {
  clearTimeout(state.poll);
  $('app-view').hidden = true;
  $('who').hidden = true;
  $('login-view').hidden = false;
  $('login-user').focus();
}

function showApp(user) {
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('who').hidden = false;
  $('who-name').textContent = user;
  if (!$('query-form').elements.start.value) setLast(3600);
  void refreshJobs();
}

function wireLogin() {
  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('login-error').textContent = '';
    try {
      showApp(await api.login($('login-user').value, $('login-password').value));
      $('login-password').value = '';
    } catch (err) {
      $('login-error').textContent = err.message;
    }
  });
  $('logout').addEventListener('click', async () => {
    await api.logout().catch(() => {});
    state.open = null;
    $('results').hidden = true;
    showLogin();
  });
}

// ---- the query form

const toInput = (ms) => new Date(ms).toISOString().slice(0, 19);
const fromInput = (v) => (v ? Date.parse(`${v}Z`) : undefined);

function setLast(seconds) {
  const f = $('query-form').elements;
  const now = Date.now();
  f.start.value = seconds === 'all' ? toInput(0) : toInput(now - seconds * 1000);
  f.end.value = toInput(now);
}

function setMode(mode) {
  state.mode = mode;
  $('fixed-fields').hidden = mode !== 'fixed';
  $('query-fields').hidden = mode !== 'query';
  for (const tab of document.querySelectorAll('[role=tab]'))
    tab.setAttribute('aria-selected', String(tab.dataset.mode === mode));
}

function wireForm() {
  for (const tab of document.querySelectorAll('[role=tab]'))
    tab.addEventListener('click', () => setMode(tab.dataset.mode));
  for (const b of document.querySelectorAll('[data-last]'))
    b.addEventListener('click', () => setLast(b.dataset.last === 'all' ? 'all' : Number(b.dataset.last)));
  $('query-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = e.target.elements;
    for (const bad of document.querySelectorAll('.invalid')) bad.classList.remove('invalid');
    $('query-error').textContent = '';
    const request = {};
    const start = fromInput(f.start.value);
    const end = fromInput(f.end.value);
    if (start === undefined || Number.isNaN(start)) {
      $('query-error').textContent = 'Give a start time.';
      return;
    }
    request.startTimeMs = start;
    if (end !== undefined) request.endTimeMs = end;
    if (state.mode === 'fixed') {
      for (const name of ['ipSrcAddr', 'ipSrcPort', 'ipDstAddr', 'ipDstPort', 'protocol', 'packetFilter'])
        if (f[name].value.trim() !== '') request[name] = f[name].value.trim();
      if (f.includeReverse.checked) request.includeReverse = true;
    } else request.query = f.query.value;
    $('submit').disabled = true;
    try {
      const s = await api.submit(state.mode, request);
      await refreshJobs();
      openJob(s.jobId);
    } catch (err) {
      $('query-error').textContent = err.message;
      if (err.field && f[err.field]) {
        f[err.field].classList.add('invalid');
        f[err.field].focus();
      }
      if (err.status === 401) showLogin();
    } finally {
      $('submit').disabled = false;
    }
  });
}

// ---- jobs

const ACTIVE = new Set(['SUBMITTED', 'RUNNING', 'FINALIZING', 'NOT_RUNNING']);

async function refreshJobs() {
  clearTimeout(state.poll);
  try {
    state.jobs = await api.jobs();
  } catch (err) {
    if (err.status === 401) return showLogin();
  }
  renderJobs();
  const openJobNow = state.jobs.find((j) => j.jobId === state.open);
  if (openJobNow && openJobNow.jobStatus === 'SUCCEEDED' && !state.pdml) void loadPage(1);
  state.poll = setTimeout(refreshJobs, state.jobs.some((j) => ACTIVE.has(j.jobStatus)) ? 1000 : 5000);
}

function renderJobs() {
  const body = $('jobs-table').tBodies[0];
  body.replaceChildren();
  $('jobs-empty').hidden = state.jobs.length > 0;
  for (const j of state.jobs) {
    const progress = el('progress', { max: '100', value: String(j.percentComplete) });
    const actions = el('td', { class: 'actions' });
    if (ACTIVE.has(j.jobStatus))
      actions.append(
        el('button', { type: 'button', class: 'link danger', text: 'Cancel', onclick: () => cancel(j.jobId) }),
      );
    if (j.jobStatus === 'SUCCEEDED' && j.pageTotal > 0) {
      actions.append(el('button', { type: 'button', class: 'link', text: 'Open', onclick: () => openJob(j.jobId) }));
      actions.append(el('a', { href: api.downloadUrl(j.jobId), class: 'link', download: '', text: 'Download' }));
    }
    const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
    const result = j.jobStatus === 'SUCCEEDED' ? `${plural(j.packets, 'packet')}, ${plural(j.pageTotal, 'page')}` : '';
    body.append(
      el(
        'tr',
        { class: j.jobId === state.open ? 'selected' : null, dataset: { job: j.jobId, state: j.jobStatus } },
        el('td', { class: 'nowrap', text: formatTime(j.submittedAt) }),
        el('td', { class: 'query-text', text: querySummary(j), title: j.jobId }),
        el('td', {}, el('span', { class: `state s-${j.jobStatus.toLowerCase()}`, text: j.jobStatus })),
        el('td', {}, progress, el('div', { class: 'desc', text: j.description })),
        el('td', { text: result }),
        actions,
      ),
    );
  }
}

async function cancel(jobId) {
  if (!confirm('Cancel this job?')) return;
  await api.kill(jobId).catch((err) => alert(err.message));
  await refreshJobs();
}

function openJob(jobId) {
  state.open = jobId;
  state.pdml = null;
  $('results').hidden = false;
  $('results-job').textContent = jobId;
  $('packets-table').tBodies[0].replaceChildren();
  $('detail').hidden = true;
  $('download-all').href = api.downloadUrl(jobId);
  const job = state.jobs.find((j) => j.jobId === jobId);
  if (job?.jobStatus === 'SUCCEEDED') void loadPage(1);
  else $('packets-status').textContent = 'Waiting for the job to finish…';
  renderJobs();
}

// ---- results

function wireResults() {
  $('page-prev').addEventListener('click', () => loadPage(state.page - 1));
  $('page-next').addEventListener('click', () => loadPage(state.page + 1));
}

async function loadPage(page) {
  const job = state.jobs.find((j) => j.jobId === state.open);
  if (!job) return;
  if (job.pageTotal === 0) {
    state.pdml = { packets: [] };
    $('packets-status').textContent = job.description;
    $('packets-table').tBodies[0].replaceChildren();
    return;
  }
  page = Math.min(Math.max(1, page), job.pageTotal);
  state.page = page;
  $('page-label').textContent = `Page ${page} of ${job.pageTotal}`;
  $('page-prev').disabled = page <= 1;
  $('page-next').disabled = page >= job.pageTotal;
  $('download-page').href = api.rawUrl(job.jobId, page);
  $('packets-status').textContent = 'Loading…';
  $('detail').hidden = true;
  try {
    const [pdml, raw] = await Promise.all([api.pdml(job.jobId, page), api.rawPage(job.jobId, page)]);
    if (state.open !== job.jobId || state.page !== page) return;
    state.pdml = pdml;
    state.raw = parsePcap(raw);
    renderPackets();
  } catch (err) {
    $('packets-status').textContent = err.message;
  }
}

function renderPackets() {
  const body = $('packets-table').tBodies[0];
  body.replaceChildren();
  state.pdml.packets.forEach((p, i) => {
    const s = summarize(p);
    body.append(
      el(
        'tr',
        {
          class: 'packet',
          tabindex: '0',
          onclick: () => showPacket(i),
          onkeydown: (e) => e.key === 'Enter' && showPacket(i),
        },
        el('td', { text: s.num }),
        el('td', { class: 'nowrap', text: s.time }),
        el('td', { class: 'mono', text: s.src }),
        el('td', { text: s.srcPort }),
        el('td', { class: 'mono', text: s.dst }),
        el('td', { text: s.dstPort }),
        el('td', { text: s.protocol }),
        el('td', { text: s.length }),
      ),
    );
  });
  $('packets-status').textContent = state.pdml.packets.length ? '' : 'No packets on this page.';
}

function showPacket(i) {
  for (const tr of $('packets-table').tBodies[0].rows) tr.classList.toggle('selected', tr.sectionRowIndex === i);
  const hex = $('hex');
  hexDump(hex, state.raw[i]?.data ?? new Uint8Array());
  $('layers').replaceChildren(layerTree(state.pdml.packets[i], (pos, size) => highlight(hex, pos, size)));
  $('detail').hidden = false;
}

void start();
