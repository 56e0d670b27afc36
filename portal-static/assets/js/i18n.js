// Bahasa Indonesia by default, English on request; the choice is kept in localStorage.
const dict = {
  id: {
    skip: 'Lewati ke konten utama', nav_label: 'Menu utama', nav_home: 'Beranda', nav_catalog: 'Katalog',
    nav_developers: 'Pengembang', nav_publishers: 'Penerbit', nav_docs: 'Referensi API',
    footer: 'Data terbuka kota, disajikan oleh Gerbang.', switch_to: 'English',
    not_found: 'Halaman tidak ditemukan', error: 'Terjadi kesalahan', loading: 'Memuat…',
    copy: 'Salin', copied: 'Tersalin', updated_today: 'diperbarui hari ini', updated_days_ago: 'diperbarui {n} hari lalu',
    home_title: 'Data terbuka kota, siap dipakai', home_lead: 'Temukan dataset perangkat daerah, pahami isinya, ambil kunci API, dan panggil datanya.',
    search_label: 'Cari dataset', search_placeholder: 'mis. banjir, sampah, APBD', search_button: 'Cari',
    themes: 'Tema kota cerdas', agencies: 'Perangkat daerah', recent: 'Baru diperbarui',
    count_datasets: 'dataset', count_agencies: 'perangkat daerah', count_themes: 'tema', datasets_n: '{n} dataset',
    theme_governance: 'Tata kelola', theme_branding: 'Citra kota', theme_economy: 'Ekonomi',
    theme_living: 'Kehidupan', theme_society: 'Masyarakat', theme_environment: 'Lingkungan',
    catalog_title: 'Katalog dataset', filters: 'Saring', facet_agency: 'Perangkat daerah', facet_theme: 'Tema', facet_tag: 'Tag',
    all: 'Semua', sort_label: 'Urutkan', sort_updated: 'Terbaru diperbarui', sort_title: 'Judul (A–Z)',
    results_n: '{n} dataset ditemukan', no_results: 'Tidak ada dataset yang cocok.', prev: 'Sebelumnya', next: 'Berikutnya',
    page_n: 'Halaman {p} dari {n}', clear_filters: 'Hapus semua filter', latest_version: 'versi terbaru',
    no_version: 'belum terbit', registered_only: 'perlu kunci API',
    agency_datasets: 'Dataset', website: 'Situs web', freshness: 'Kesegaran',
    meta: 'Metadata', f_agency: 'Perangkat daerah', f_theme: 'Tema', f_tags: 'Tag', f_license: 'Lisensi',
    f_frequency: 'Frekuensi', f_contact: 'Kontak', f_spatial: 'Cakupan wilayah', f_temporal: 'Cakupan waktu',
    f_access: 'Akses', f_created: 'Dibuat', f_updated: 'Diperbarui', access_public: 'publik', access_registered: 'terdaftar (perlu kunci API)',
    freq_daily: 'harian', freq_weekly: 'mingguan', freq_monthly: 'bulanan', freq_quarterly: 'triwulanan', freq_annual: 'tahunan', freq_irregular: 'tidak tentu',
    api_reference: 'Referensi API dataset ini', versions: 'Versi', version_n: 'Versi {n}', rows_n: '{n} baris', rows: 'Baris', published: 'Terbit',
    status_draft: 'draf', status_published: 'terbit', status_deprecated: 'usang', published_at: 'terbit {d}',
    schema_changes: 'Perubahan skema', col_added: 'kolom baru', col_removed: 'kolom dihapus', col_retyped: 'tipe berubah', no_schema_change: 'skema sama dengan versi sebelumnya',
    dictionary: 'Kamus kolom', col_name: 'Kolom', col_type: 'Tipe', col_desc: 'Keterangan',
    preview: 'Pratinjau data langsung', filter_column: 'Kolom', filter_op: 'Operator', filter_value: 'Nilai',
    add_filter: 'Tambah filter', remove_filter: 'Hapus filter {f}', fulltext: 'Cari teks', order_by: 'Urut menurut', order_dir: 'Arah',
    asc: 'naik', desc: 'turun', none: '(tanpa)', page_size: 'Baris', apply: 'Terapkan', api_url: 'URL API untuk tampilan ini',
    copy_url: 'Salin URL', showing_rows: 'Menampilkan {n} dari {total} baris', snippets: 'Contoh kode', downloads: 'Unduh',
    download_csv: 'CSV (semua baris)', download_geojson: 'GeoJSON (semua baris)', map: 'Peta',
    map_note: 'Titik digambar di atas latar polos (tidak ada server peta yang dikonfigurasi).', map_points: '{n} titik pertama ditampilkan.',
    no_published: 'Dataset ini belum memiliki versi terbit.', needs_key: 'Dataset ini memerlukan kunci API. Masuk di halaman Pengembang.',
    dev_title: 'Pengembang', dev_lead: 'Daftar untuk mendapatkan kunci API gratis, lalu pantau pemakaian Anda.',
    signup: 'Daftar', email: 'Surel', name: 'Nama', organization: 'Organisasi (opsional)', purpose: 'Rencana pemakaian (opsional)',
    signup_button: 'Daftar dan buat kunci', have_key: 'Sudah punya kunci?', your_key: 'Kunci API', use_key: 'Masuk dengan kunci',
    key_once_title: 'Kunci API Anda', key_once: 'Simpan kunci ini sekarang. Kunci hanya ditampilkan sekali dan tidak dapat dilihat lagi.',
    account: 'Akun saya', tier: 'Tingkat', per_minute: 'Per menit', per_day: 'Per hari', used_today: 'Terpakai hari ini', remaining_today: 'Sisa kuota hari ini',
    my_keys: 'Kunci saya', key_prefix: 'Awalan', key_name: 'Nama kunci', created: 'Dibuat', expires: 'Berhenti', actions: 'Tindakan',
    new_key: 'Buat kunci', roll: 'Ganti', revoke: 'Cabut', grace: 'Masa tenggang kunci lama', grace_0: 'langsung berhenti', grace_1h: '1 jam', grace_1d: '1 hari', grace_7d: '7 hari',
    confirm_revoke: 'Cabut kunci {p}? Aplikasi yang memakainya akan berhenti berfungsi.', this_key: '(kunci sesi ini)', key_status: 'Status', last_used: 'Terakhir dipakai', ks_active: 'aktif', ks_expiring: 'segera berhenti', ks_revoked: 'dicabut', ks_expired: 'berhenti',
    my_usage: 'Pemakaian saya', usage_total: 'Total {n} permintaan dalam 30 hari', refresh: 'Muat ulang', per_dataset: 'Per dataset', day: 'Hari', requests: 'Permintaan', dataset: 'Dataset', other_calls: '(lainnya)',
    usage_chart: 'Grafik permintaan per hari', sign_out: 'Keluar',
    pub_title: 'Penerbit', pub_lead: 'Masuk sebagai staf perangkat daerah untuk mendaftarkan dataset dan menerbitkan versi baru.',
    username: 'Nama pengguna', password: 'Kata sandi', login: 'Masuk', signed_in_as: 'Masuk sebagai {u} ({r})',
    choose_agency: 'Perangkat daerah', my_datasets: 'Dataset perangkat daerah ini', choose_dataset: 'Pilih dataset', manage: 'Kelola',
    register_dataset: 'Daftarkan dataset baru', slug: 'Slug (huruf kecil, angka, tanda hubung)', title: 'Judul', description: 'Deskripsi',
    tags_comma: 'Tag (pisahkan dengan koma)', contact_name: 'Nama kontak', contact_email: 'Surel kontak', register: 'Daftarkan', registered_ok: 'Dataset {s} terdaftar.',
    upload: 'Unggah versi baru', file: 'Berkas (CSV, JSON, NDJSON)', changelog: 'Catatan perubahan', upload_button: 'Unggah',
    upload_progress: 'Kemajuan unggahan', uploaded: 'Versi {n} diunggah sebagai draf ({rows} baris).', inferred_schema: 'Skema hasil inferensi', warnings: 'Peringatan validasi', no_warnings: 'Tidak ada peringatan.',
    publish: 'Terbitkan', published_ok: 'Versi {n} terbit.', deprecate: 'Tandai usang', sunset: 'Tanggal berhenti (opsional)', deprecated_ok: 'Versi {n} ditandai usang.',
    dataset_usage: 'Pemakaian dataset', distinct_keys: 'kunci berbeda', view_public: 'Lihat halaman publik',
  },
  en: {
    skip: 'Skip to main content', nav_label: 'Main menu', nav_home: 'Home', nav_catalog: 'Catalog',
    nav_developers: 'Developers', nav_publishers: 'Publishers', nav_docs: 'API reference',
    footer: "The city's open data, served by Gerbang.", switch_to: 'Bahasa Indonesia',
    not_found: 'Page not found', error: 'Something went wrong', loading: 'Loading…',
    copy: 'Copy', copied: 'Copied', updated_today: 'updated today', updated_days_ago: 'updated {n} days ago',
    home_title: "The city's open data, ready to use", home_lead: "Find agencies' datasets, understand them, get an API key and call the data.",
    search_label: 'Search datasets', search_placeholder: 'e.g. flood, waste, budget', search_button: 'Search',
    themes: 'Smart city themes', agencies: 'Agencies', recent: 'Recently updated',
    count_datasets: 'datasets', count_agencies: 'agencies', count_themes: 'themes', datasets_n: '{n} datasets',
    theme_governance: 'Governance', theme_branding: 'Branding', theme_economy: 'Economy',
    theme_living: 'Living', theme_society: 'Society', theme_environment: 'Environment',
    catalog_title: 'Dataset catalog', filters: 'Filters', facet_agency: 'Agency', facet_theme: 'Theme', facet_tag: 'Tag',
    all: 'All', sort_label: 'Sort by', sort_updated: 'Recently updated', sort_title: 'Title (A–Z)',
    results_n: '{n} datasets found', no_results: 'No dataset matches.', prev: 'Previous', next: 'Next',
    page_n: 'Page {p} of {n}', clear_filters: 'Clear all filters', latest_version: 'latest version',
    no_version: 'not published yet', registered_only: 'needs an API key',
    agency_datasets: 'Datasets', website: 'Website', freshness: 'Freshness',
    meta: 'Metadata', f_agency: 'Agency', f_theme: 'Theme', f_tags: 'Tags', f_license: 'License',
    f_frequency: 'Frequency', f_contact: 'Contact', f_spatial: 'Spatial coverage', f_temporal: 'Temporal coverage',
    f_access: 'Access', f_created: 'Created', f_updated: 'Updated', access_public: 'public', access_registered: 'registered (needs an API key)',
    freq_daily: 'daily', freq_weekly: 'weekly', freq_monthly: 'monthly', freq_quarterly: 'quarterly', freq_annual: 'annual', freq_irregular: 'irregular',
    api_reference: "This dataset's API reference", versions: 'Versions', version_n: 'Version {n}', rows_n: '{n} rows', rows: 'Rows', published: 'Published',
    status_draft: 'draft', status_published: 'published', status_deprecated: 'deprecated', published_at: 'published {d}',
    schema_changes: 'Schema changes', col_added: 'added', col_removed: 'removed', col_retyped: 'type changed', no_schema_change: 'same schema as the previous version',
    dictionary: 'Column dictionary', col_name: 'Column', col_type: 'Type', col_desc: 'Description',
    preview: 'Live data preview', filter_column: 'Column', filter_op: 'Operator', filter_value: 'Value',
    add_filter: 'Add filter', remove_filter: 'Remove filter {f}', fulltext: 'Text search', order_by: 'Order by', order_dir: 'Direction',
    asc: 'ascending', desc: 'descending', none: '(none)', page_size: 'Rows', apply: 'Apply', api_url: 'API URL for this view',
    copy_url: 'Copy URL', showing_rows: 'Showing {n} of {total} rows', snippets: 'Code snippets', downloads: 'Downloads',
    download_csv: 'CSV (all rows)', download_geojson: 'GeoJSON (all rows)', map: 'Map',
    map_note: 'Points are drawn on a plain background (no tile server is configured).', map_points: 'The first {n} points are shown.',
    no_published: 'This dataset has no published version yet.', needs_key: 'This dataset needs an API key. Sign in on the Developers page.',
    dev_title: 'Developers', dev_lead: 'Sign up for a free API key, then watch your usage.',
    signup: 'Sign up', email: 'Email', name: 'Name', organization: 'Organization (optional)', purpose: 'What will you build? (optional)',
    signup_button: 'Sign up and create a key', have_key: 'Already have a key?', your_key: 'API key', use_key: 'Sign in with the key',
    key_once_title: 'Your API key', key_once: 'Save this key now. It is shown only once and cannot be seen again.',
    account: 'My account', tier: 'Tier', per_minute: 'Per minute', per_day: 'Per day', used_today: 'Used today', remaining_today: 'Quota left today',
    my_keys: 'My keys', key_prefix: 'Prefix', key_name: 'Key name', created: 'Created', expires: 'Stops', actions: 'Actions',
    new_key: 'Create key', roll: 'Roll', revoke: 'Revoke', grace: 'Grace period for the old key', grace_0: 'stop at once', grace_1h: '1 hour', grace_1d: '1 day', grace_7d: '7 days',
    confirm_revoke: 'Revoke key {p}? Apps using it will stop working.', this_key: '(this session)', key_status: 'Status', last_used: 'Last used', ks_active: 'active', ks_expiring: 'expiring', ks_revoked: 'revoked', ks_expired: 'expired',
    my_usage: 'My usage', usage_total: '{n} requests in 30 days', refresh: 'Refresh', per_dataset: 'Per dataset', day: 'Day', requests: 'Requests', dataset: 'Dataset', other_calls: '(other)',
    usage_chart: 'Requests per day chart', sign_out: 'Sign out',
    pub_title: 'Publishers', pub_lead: "Sign in as agency staff to register datasets and publish new versions.",
    username: 'Username', password: 'Password', login: 'Sign in', signed_in_as: 'Signed in as {u} ({r})',
    choose_agency: 'Agency', my_datasets: "This agency's datasets", choose_dataset: 'Choose a dataset', manage: 'Manage',
    register_dataset: 'Register a new dataset', slug: 'Slug (lowercase letters, digits, hyphens)', title: 'Title', description: 'Description',
    tags_comma: 'Tags (comma separated)', contact_name: 'Contact name', contact_email: 'Contact email', register: 'Register', registered_ok: 'Dataset {s} registered.',
    upload: 'Upload a new version', file: 'File (CSV, JSON, NDJSON)', changelog: 'Changelog', upload_button: 'Upload',
    upload_progress: 'Upload progress', uploaded: 'Version {n} uploaded as a draft ({rows} rows).', inferred_schema: 'Inferred schema', warnings: 'Validation warnings', no_warnings: 'No warnings.',
    publish: 'Publish', published_ok: 'Version {n} published.', deprecate: 'Deprecate', sunset: 'Sunset date (optional)', deprecated_ok: 'Version {n} deprecated.',
    dataset_usage: 'Dataset usage', distinct_keys: 'distinct keys', view_public: 'View the public page',
  },
};

let current = (() => {
  try { return localStorage.getItem('gerbang.lang') === 'en' ? 'en' : 'id'; } catch { return 'id'; }
})();

export function lang() { return current; }

export function setLang(l) {
  current = l === 'en' ? 'en' : 'id';
  try { localStorage.setItem('gerbang.lang', current); } catch { /* private mode: session only */ }
}

/** t('rows_n', {n: 5}) */
export function t(key, vars) {
  let s = dict[current][key] ?? dict.id[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, v);
  return s;
}

/** Translates the static shell (elements marked data-i18n / data-i18n-label). */
export function translateStatic() {
  document.documentElement.lang = current;
  document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll('[data-i18n-label]').forEach((el) => el.setAttribute('aria-label', t(el.dataset.i18nLabel)));
  const b = document.getElementById('lang-switch');
  if (b) {
    b.textContent = t('switch_to');
    b.lang = current === 'id' ? 'en' : 'id';
  }
}
