// The village terminal: choose a language and a topic, call, wait, talk, hang up, rate the call.
//
// The kiosk signs in with the device token it keeps in localStorage; without one it shows its
// enrolment code until a supervisor confirms it (enrol.js). A refused or revoked token sends it
// back to enrolment.

import { Call } from './call.js';
import { Enrolment, forgetDevice, saveDevice, savedDevice } from './enrol.js';
import { build } from './protocol.js';
import { Signaling, websocketUrl } from './signaling.js';
import {
  MediaUnavailable,
  PageStore,
  Texts,
  byId,
  cameraSize,
  currentView,
  exposeForTests,
  openCamera,
  playStream,
  readConfig,
  serverClock,
  showView,
  stopStream,
  toggleTracks,
  tracksEnabled,
} from './ui.js';

// The terminal's camera is asked for 4K: a document held up to it should be readable.
const CAMERA = { width: 3840, height: 2160 };
const IN_ROOM = ['joined', 'negotiating', 'connected'];
const QUEUED = ['waiting', 'ringing'];
// A rating the server has not confirmed yet: sent again after a reconnection or a reload.
const RATING_KEY = 'lawroom.rating';
const PROTOCOL_VERSION = 1;

function readJson(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || 'null');
  } catch {
    return null;
  }
}

class VillagePage {
  constructor(config) {
    this.config = config;
    this.store = new PageStore('lawroom.page.village');
    this.state = this.store.load();
    this.texts = new Texts(config.catalogue, this.state.language || config.default_language);
    this.professional = Object.fromEntries(config.topics.map((t) => [t.slug, t.professional]));
    this.now = serverClock(config.server_now);
    // Made once the kiosk knows its device (at once, or after enrolling).
    this.signaling = null;
    this.device = null;
    this.rateFor = null;
    this.rateId = null;
    this.stream = null;
    this.call = null;
    this.documentMode = false;
    this.endedIds = new Set();
    this.requestId = null;
    // Server messages are handled one at a time, in order, even when handling one waits.
    this.inbox = Promise.resolve();
  }

  start() {
    this.bindButtons();
    this.texts.setLanguage(this.texts.language);
    this.markLanguage();
    this.markTopic();
    // --demo's `?identity=` hands the page a demo terminal; it is not kept.
    const device = this.config.demo_device || savedDevice();
    if (device) this.connect(device);
    else this.enrol(null);
  }

  connect(device) {
    this.device = device;
    byId('village-name').textContent = device.village;
    if (this.state.consultationId) this.showWaitingOrCall();
    else showView('loading');
    const s = new Signaling({
      url: websocketUrl(this.config.ws_path),
      role: this.config.role,
      identity: device.identity,
      token: device.token,
      schemaUrl: this.config.schema_url,
    });
    this.signaling = s;
    s.addEventListener('message', (ev) => this.enqueue(() => this.onMessage(ev.detail)));
    s.addEventListener('ready', (ev) => this.enqueue(() => this.onReady(ev.detail)));
    s.addEventListener('resume-failed', () => this.enqueue(() => this.onResumeFailed()));
    s.addEventListener('status', (ev) => this.showConnection(ev.detail.state));
    s.addEventListener('fatal', (ev) => this.onFatal(ev.detail.key));
    s.start();
  }

  async enrol(noticeKey) {
    byId('village-name').textContent = '';
    const notice = byId('enrol-notice');
    notice.hidden = !noticeKey;
    if (noticeKey) this.texts.set(notice, noticeKey);
    byId('enrol-code').textContent = '';
    showView('enrol');
    const enrolment = new Enrolment({
      startUrl: this.config.enrol_start_url,
      claimUrl: this.config.enrol_claim_url,
      csrfToken: this.config.csrf_token,
      now: this.now,
    });
    enrolment.addEventListener('code', (ev) => {
      byId('enrol-code').textContent = ev.detail.code;
      this.texts.set(byId('enrol-status'), 'village.enrol_waiting');
    });
    enrolment.addEventListener('problem', () => {
      this.texts.set(byId('enrol-status'), 'village.enrol_failed');
    });
    const device = await enrolment.run();
    saveDevice(device);
    this.connect(device);
  }

  onFatal(key) {
    const demo = Boolean(this.config.demo_device);
    if (key === 'bad_credentials' && !demo) {
      // The token is refused: the terminal was revoked, or enrolled again on another kiosk.
      this.signaling.forget();
      this.signaling = null;
      forgetDevice();
      this.store.save({ language: this.state.language, topic: this.state.topic });
      this.state = this.store.load();
      this.enrol('village.enrol_revoked');
      return;
    }
    if (key === 'revoked') {
      // Revoked mid-session: what this kiosk holds is worthless now; it enrols after "start over".
      this.signaling.forget();
      if (!demo) forgetDevice();
    }
    this.showError(key);
  }

  enqueue(step) {
    this.inbox = this.inbox.then(step).catch((err) => console.error('lawroom:', err));
  }

  save(changes) {
    Object.assign(this.state, changes);
    this.store.save(this.state);
  }

  // -- buttons --------------------------------------------------------------------------------

  bindButtons() {
    for (const button of document.querySelectorAll('button.lang')) {
      button.addEventListener('click', () => {
        this.save({ language: button.dataset.lang });
        this.texts.setLanguage(button.dataset.lang);
        this.markLanguage();
        this.markTopic();
      });
    }
    for (const button of document.querySelectorAll('button.topic')) {
      button.addEventListener('click', () => {
        this.save({ topic: button.dataset.topic });
        this.markTopic();
      });
    }
    byId('call').addEventListener('click', () => this.requestCall());
    byId('cancel').addEventListener('click', () => this.cancel());
    byId('callback-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.leaveCallback();
    });
    byId('hangup').addEventListener('click', () => this.hangUp());
    byId('mute').addEventListener('click', () => {
      toggleTracks(this.stream, 'audio');
      this.markControls();
    });
    byId('camera').addEventListener('click', () => {
      toggleTracks(this.stream, 'video');
      this.markControls();
    });
    byId('document').addEventListener('click', () => this.setDocumentMode(!this.documentMode));
    byId('back-home').addEventListener('click', () => this.goHome());
    for (const button of document.querySelectorAll('button.star')) {
      button.addEventListener('click', () => this.rate(Number(button.dataset.rating)));
    }
    byId('start-over').addEventListener('click', () => {
      this.store.save({ language: this.state.language, topic: this.state.topic });
      location.reload();
    });
  }

  markLanguage() {
    for (const button of document.querySelectorAll('button.lang')) {
      button.setAttribute('aria-pressed', String(button.dataset.lang === this.texts.language));
    }
  }

  markTopic() {
    const topic = this.state.topic;
    for (const button of document.querySelectorAll('button.topic')) {
      button.setAttribute('aria-pressed', String(button.dataset.topic === topic));
    }
    byId('call').disabled = !topic || !this.signaling?.ready;
    const hint = byId('call-hint');
    if (topic) this.texts.set(hint, 'village.topic_goes_to', { role: this.roleName(topic) });
    else this.texts.set(hint, 'village.call_hint');
  }

  markControls() {
    const t = this.texts;
    t.set(byId('mute').firstElementChild, tracksEnabled(this.stream, 'audio') ? 'common.mute' : 'common.unmute');
    t.set(byId('camera').firstElementChild, tracksEnabled(this.stream, 'video') ? 'common.camera_off' : 'common.camera_on');
    const role = this.roleName(this.state.topic);
    t.set(byId('document').firstElementChild, this.documentMode ? 'village.document_off' : 'village.document_on', { role });
    byId('document').setAttribute('aria-pressed', String(this.documentMode));
    byId('document-hint').hidden = !this.documentMode;
    byId('self').closest('.stage').classList.toggle('document', this.documentMode);
  }

  roleName(topic) {
    const role = this.state.peerRole || (this.professional[topic] === 'mediator' ? 'mediator' : 'lawyer');
    return this.texts.t(`role.${role}`);
  }

  async requestCall() {
    if (!this.state.topic || !this.signaling?.ready) return;
    byId('home-notice').hidden = true;
    byId('call').disabled = true;
    this.texts.set(byId('call-hint'), 'village.preparing_camera');
    if (!(await this.ensureMedia())) return;
    this.save({ consultationId: null, waiting: null, callState: 'waiting', peerName: null, peerRole: null, requeued: false });
    this.requestId = this.signaling.send(build.requestConsultation(this.state.topic, this.texts.language));
    this.showWaiting();
  }

  cancel() {
    const id = this.state.consultationId;
    if (id) {
      this.endedIds.add(id);
      this.signaling.send(build.cancelRequest(id));
    }
    this.goHome();
  }

  leaveCallback() {
    const id = this.state.consultationId;
    if (!id) return;
    const phone = byId('callback-phone').value.trim();
    this.signaling.send(build.leaveCallback(id, phone || null));
  }

  hangUp() {
    const id = this.state.consultationId;
    if (id) this.signaling.send(build.hangUp(id));
    this.endCall('hang_up');
  }

  async setDocumentMode(on) {
    this.documentMode = on;
    this.markControls();
    if (this.call) await this.call.setDocumentMode(on);
  }

  goHome() {
    this.rateFor = null;
    byId('callback-phone').value = '';
    byId('rating').hidden = true;
    this.closeCall();
    stopStream(this.stream);
    this.stream = null;
    this.save({ consultationId: null, callState: null, waiting: null, peerName: null, peerRole: null, requeued: false });
    showView('home');
    this.markTopic();
  }

  // -- what the server says -------------------------------------------------------------------

  async onReady(detail) {
    await this.afterSignIn(detail);
    this.sendRating();
  }

  async afterSignIn({ resumed, resumedMessage }) {
    this.markTopic();
    if (!resumed) {
      if (currentView() !== 'error') this.goHome();
      return;
    }
    const { consultation_id: id, call_state: callState } = resumedMessage;
    if (!id || this.endedIds.has(id)) {
      if (['loading', 'waiting', 'call'].includes(currentView())) this.goHome();
      return;
    }
    this.save({ consultationId: id, callState });
    if (!(await this.ensureMedia())) return;
    if (QUEUED.includes(callState)) this.showWaiting();
    else if (IN_ROOM.includes(callState)) {
      this.showCall();
      // This page lost its peer connection with the reload: it offers afresh.
      if (!this.call?.hasPeerConnection) await this.startCall(true);
    }
  }

  onResumeFailed() {
    if (this.state.consultationId) {
      this.save({ consultationId: null, callState: null });
      this.showError('resume_failed');
    }
  }

  async onMessage(msg) {
    // The rating's reply comes after its call has ended.
    if (msg.ref !== undefined && msg.ref === this.rateId) return this.onRated(msg);
    const id = msg.consultation_id;
    if (id && this.endedIds.has(id)) return;
    switch (msg.type) {
      case 'call_state':
        if (msg.state === 'ended') return;
        if (msg.state === 'waiting' && this.call) {
          // The professional dropped out and did not come back: waiting for the next one.
          this.closeCall();
          this.save({ requeued: true });
        }
        this.save({ consultationId: id, callState: msg.state });
        if (QUEUED.includes(msg.state)) this.showWaiting();
        return;
      case 'waiting':
        this.save({ consultationId: id, waiting: msg });
        this.showWaiting();
        return;
      case 'callback_left':
        // The request waits on without this terminal, which is free for the next villager;
        // the ring-back comes as a room_joined for the same consultation.
        this.goHome();
        this.texts.set(byId('home-notice'), 'village.callback_left', { role: this.roleName(this.state.topic) });
        byId('home-notice').hidden = false;
        return;
      case 'room_joined':
        // Also a callback ringing back, with the page at home.
        byId('home-notice').hidden = true;
        this.save({ consultationId: id, callState: 'joined', peerName: msg.peer_name, peerRole: msg.peer_role, requeued: false });
        if (!(await this.ensureMedia())) return;
        this.showCall();
        await this.startCall(msg.initiator);
        return;
      case 'sdp':
        if (!this.call && (await this.ensureMedia())) {
          this.showCall();
          await this.startCall(false);
        }
        await this.call?.onSdp(msg);
        return;
      case 'ice_candidate':
        await this.call?.onCandidate(msg);
        return;
      case 'peer_disconnected':
        this.showCallStatus('common.peer_reconnecting');
        return;
      case 'peer_resumed':
        this.showCallStatus(null);
        return;
      case 'consultation_ended':
        this.endCall(msg.reason);
        return;
      case 'error':
        this.onError(msg);
        return;
      default:
        return;
    }
  }

  onError(msg) {
    console.warn('lawroom: the server refused a message:', msg.code, msg.message);
    // The request itself failing leaves the villager nowhere: say so. Other refusals are
    // races with the other side (a hang-up crossing ours) and change nothing on screen.
    if (msg.ref !== undefined && msg.ref === this.requestId) this.showError(msg.code);
  }

  // -- the call -------------------------------------------------------------------------------

  async ensureMedia() {
    if (this.stream) return true;
    try {
      this.stream = await openCamera(cameraSize(CAMERA));
    } catch (err) {
      this.showError(err instanceof MediaUnavailable ? err.key : 'media');
      return false;
    }
    byId('preview').srcObject = this.stream;
    byId('self').srcObject = this.stream;
    this.markControls();
    return true;
  }

  async startCall(offer) {
    this.closeCall();
    const call = new Call({
      signaling: this.signaling,
      consultationId: this.state.consultationId,
      iceServers: this.signaling.iceServers,
      stream: this.stream,
      polite: false,
      documentMode: this.documentMode,
    });
    this.call = call;
    call.addEventListener('remote-stream', (ev) => playStream(byId('remote'), ev.detail, byId('sound')));
    await call.start(offer);
  }

  closeCall() {
    if (this.call) this.call.close();
    this.call = null;
    byId('remote').srcObject = null;
  }

  endCall(reason) {
    const id = this.state.consultationId;
    if (id) this.endedIds.add(id);
    // Only a call that took place is rated (not a request given up while waiting).
    const talked = IN_ROOM.includes(this.state.callState) && reason !== 'revoked';
    this.closeCall();
    stopStream(this.stream);
    this.stream = null;
    this.documentMode = false;
    this.save({ consultationId: null, callState: null, waiting: null, peerName: null, peerRole: null, requeued: false });
    this.texts.set(byId('ended-reason'), `end.${reason}`);
    this.showRating(talked ? id : null);
    showView('ended');
  }

  // -- the villager's rating ------------------------------------------------------------------

  showRating(id) {
    this.rateFor = id;
    byId('rating').hidden = !id;
    byId('rating-status').textContent = '';
    for (const button of document.querySelectorAll('button.star')) {
      button.disabled = false;
      button.setAttribute('aria-pressed', 'false');
    }
  }

  rate(rating) {
    if (!this.rateFor) return;
    localStorage.setItem(RATING_KEY, JSON.stringify({ consultation_id: this.rateFor, rating }));
    for (const button of document.querySelectorAll('button.star')) {
      button.setAttribute('aria-pressed', String(Number(button.dataset.rating) === rating));
      button.disabled = true;
    }
    this.texts.set(byId('rating-status'), 'village.rate_saving');
    this.sendRating();
  }

  sendRating() {
    const pending = readJson(RATING_KEY);
    if (!pending || !this.signaling) return;
    this.rateId = this.signaling.send({
      v: PROTOCOL_VERSION,
      type: 'rate',
      consultation_id: pending.consultation_id,
      rating: pending.rating,
    });
  }

  onRated(msg) {
    this.rateId = null;
    // Rated already, or no longer anybody's to rate: either way there is nothing to resend.
    const final = msg.type === 'saved' || ['invalid_state', 'not_found', 'forbidden'].includes(msg.code);
    if (!final) {
      console.warn('lawroom: the rating was not saved:', msg.code, msg.message);
      return;
    }
    localStorage.removeItem(RATING_KEY);
    if (msg.type === 'saved' || msg.code === 'invalid_state') {
      this.texts.set(byId('rating-status'), 'village.rate_thanks');
    }
  }

  // -- views ----------------------------------------------------------------------------------

  showWaitingOrCall() {
    if (IN_ROOM.includes(this.state.callState)) this.showCall();
    else this.showWaiting();
  }

  showWaiting() {
    const t = this.texts;
    const role = this.roleName(this.state.topic);
    const waiting = this.state.waiting;
    if (this.state.callState === 'ringing') t.set(byId('waiting-title'), 'village.ringing', { role });
    else if (this.state.requeued) t.set(byId('waiting-title'), 'village.requeued', { role });
    else t.set(byId('waiting-title'), 'village.waiting_title', { role });
    t.set(byId('waiting-topic'), 'village.topic_label', { topic: t.t(`topic.${this.state.topic}`) });
    const position = byId('waiting-position');
    const duty = byId('waiting-duty');
    if (!waiting || this.state.callState === 'ringing') {
      position.textContent = '';
      duty.textContent = '';
    } else {
      const ahead = waiting.position - 1;
      if (ahead <= 0) t.set(position, 'village.position_next');
      else t.set(position, 'village.position_ahead', { ahead });
      if (waiting.callback_suggested) t.set(duty, 'village.callback_suggested', { role });
      else if (waiting.professionals_on_duty === 0) t.set(duty, 'village.none_on_duty', { role });
      else if (waiting.professionals_free === 0) t.set(duty, 'village.all_busy', { role });
      else t.set(duty, 'village.on_duty', { n: waiting.professionals_on_duty, role });
    }
    byId('callback-form').hidden = this.state.callState === 'ringing';
    showView('waiting');
  }

  showCall() {
    const name = this.state.peerName || this.roleName(this.state.topic);
    this.texts.set(byId('peer-name'), 'common.in_call_with', { name });
    if (!byId('remote').srcObject) this.showCallStatus('common.video_connecting');
    byId('remote').onplaying = () => this.showCallStatus(null);
    this.markControls();
    showView('call');
  }

  showCallStatus(key) {
    const el = byId('call-status');
    el.hidden = !key;
    if (key) this.texts.set(el, key);
  }

  showConnection(state) {
    const el = byId('status');
    el.hidden = state !== 'reconnecting';
    if (state === 'reconnecting') this.texts.set(el, 'common.reconnecting');
  }

  showError(key) {
    const known = this.texts.catalogue.zh[`error.${key}`] ? key : 'internal_error';
    this.texts.set(byId('error-text'), `error.${known}`);
    byId('status').hidden = true;
    this.closeCall();
    stopStream(this.stream);
    this.stream = null;
    showView('error');
  }
}

const page = new VillagePage(readConfig());
exposeForTests(page);
page.start();
