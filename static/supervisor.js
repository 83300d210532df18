// The bureau's terminal and account lists keep their online status current: who is connected is
// asked for every few seconds and written into the cells that show it.

const EVERY_MS = 5000;

const labels = JSON.parse(document.getElementById('presence-labels').textContent);

async function refresh() {
  try {
    const response = await fetch('/api/supervisor/presence', { cache: 'no-store', credentials: 'same-origin' });
    if (!response.ok) return;
    const presence = await response.json();
    for (const cell of document.querySelectorAll('[data-presence-for]')) {
      const now = presence[cell.dataset.presenceKind]?.[cell.dataset.presenceFor] || 'offline';
      cell.dataset.status = now;
      cell.textContent = labels[now] || now;
    }
  } catch (err) {
    console.warn('lawroom: presence not refreshed', err);
  }
}

setInterval(refresh, EVERY_MS);
