// What both pages share: their configuration, the message catalogue, views, the camera, and
// the little state a page keeps across a reload.

export function readConfig() {
  return JSON.parse(document.getElementById('lawroom-config').textContent);
}

// Every user-facing string comes from the catalogue the server embeds in the page.
export class Texts {
  constructor(catalogue, language, fallback = 'zh') {
    this.catalogue = catalogue;
    this.fallback = fallback;
    this.language = catalogue[language] ? language : fallback;
  }

  t(key, params = {}) {
    let text = this.catalogue[this.language]?.[key] ?? this.catalogue[this.fallback]?.[key];
    if (text === undefined) {
      console.error('lawroom: no text for', key);
      return key;
    }
    for (const [name, value] of Object.entries(params)) text = text.replaceAll(`{${name}}`, String(value));
    return text;
  }

  // Put a text into an element and remember its key, so a change of language redoes it.
  set(el, key, params = {}) {
    el.dataset.i18n = key;
    el.dataset.i18nParams = JSON.stringify(params);
    el.textContent = this.t(key, params);
  }

  setLanguage(language, root = document) {
    this.language = this.catalogue[language] ? language : this.fallback;
    document.documentElement.lang = this.language === 'mn' ? 'mn-Mong' : 'zh-CN';
    document.body.classList.toggle('lang-mn', this.language === 'mn');
    for (const el of root.querySelectorAll('[data-i18n]')) {
      const params = el.dataset.i18nParams ? JSON.parse(el.dataset.i18nParams) : {};
      el.textContent = this.t(el.dataset.i18n, params);
    }
  }
}

export function showView(name) {
  for (const section of document.querySelectorAll('[data-view]:not(body)')) {
    section.hidden = section.dataset.view !== name;
  }
  document.body.dataset.view = name;
}

export function currentView() {
  return document.body.dataset.view;
}

export function byId(id) {
  return document.getElementById(id);
}

// The page's own state for a reload (the session itself is kept by signaling.js).
export class PageStore {
  constructor(key) {
    this.key = key;
  }

  load() {
    try {
      return JSON.parse(sessionStorage.getItem(this.key) || '{}');
    } catch {
      return {};
    }
  }

  save(state) {
    sessionStorage.setItem(this.key, JSON.stringify(state));
  }
}

// `?camera=1280x720` asks the camera for that size instead of the page's default.
export function cameraSize(defaultSize) {
  const m = /^(\d{2,5})x(\d{2,5})$/.exec(new URLSearchParams(location.search).get('camera') || '');
  return m ? { width: Number(m[1]), height: Number(m[2]) } : defaultSize;
}

export class MediaUnavailable extends Error {
  constructor(key, cause) {
    super(key);
    this.key = key;
    this.cause = cause;
  }
}

export async function openCamera({ width, height }) {
  if (!navigator.mediaDevices?.getUserMedia || !window.RTCPeerConnection) {
    throw new MediaUnavailable('unsupported_browser');
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      video: { width: { ideal: width }, height: { ideal: height } },
    });
  } catch (err) {
    throw new MediaUnavailable('media', err);
  }
}

export function stopStream(stream) {
  for (const track of stream?.getTracks() || []) track.stop();
}

// Show a stream in a <video>. If the browser will not play sound without a tap (a page that was
// reloaded has had no tap yet), play muted and show the button that turns the sound on.
export async function playStream(video, stream, soundButton) {
  if (video.srcObject !== stream) video.srcObject = stream;
  try {
    await video.play();
  } catch (err) {
    if (err.name !== 'NotAllowedError' || !soundButton) return;
    video.muted = true;
    soundButton.hidden = false;
    soundButton.onclick = () => {
      video.muted = false;
      soundButton.hidden = true;
      video.play().catch(() => {});
    };
    await video.play().catch(() => {});
  }
}

// The server's clock, estimated from the time it rendered the page.
export function serverClock(serverNow) {
  const offset = serverNow * 1000 - Date.now();
  return () => (Date.now() + offset) / 1000;
}

// Mute and camera buttons: a track switched off keeps the call up and sends silence or black.
export function toggleTracks(stream, kind) {
  const tracks = stream ? (kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks()) : [];
  const enabled = !tracks.every((t) => !t.enabled);
  for (const t of tracks) t.enabled = !enabled;
  return !enabled;
}

export function tracksEnabled(stream, kind) {
  const tracks = stream ? (kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks()) : [];
  return tracks.length === 0 || tracks.some((t) => t.enabled);
}

// What the tests (and a curious engineer in the console) read: the view, the remote video and
// what getStats says about it.
export function exposeForTests(page) {
  window.lawroom = {
    page,
    get view() {
      return currentView();
    },
    get violations() {
      // A kiosk that has not enrolled yet has no connection to check.
      return page.signaling?.violations ?? [];
    },
    async remoteVideo() {
      const video = byId('remote');
      const stats = page.call ? await page.call.videoStats() : null;
      return {
        videoWidth: video.videoWidth,
        videoHeight: video.videoHeight,
        playing: !video.paused && video.readyState >= 2,
        framesDecoded: stats?.inbound?.framesDecoded ?? 0,
        inbound: stats?.inbound ?? null,
        outbound: stats?.outbound ?? null,
        connectionState: stats?.connectionState ?? null,
        generation: stats?.generation ?? 0,
      };
    },
  };
}
