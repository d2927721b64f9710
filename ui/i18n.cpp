#include "ui/i18n.hpp"

#include <array>
#include <cctype>
#include <map>

namespace airlock::ui {
namespace {

struct Words {
  const char* en;
  const char* pt;
  const char* es;
};

const std::map<std::string_view, Words>& table() {
  static const std::map<std::string_view, Words> t = {
      {"title", {"Software updates", "Atualizações de software", "Actualizaciones de software"}},
      {"login", {"Log in", "Entrar", "Iniciar sesión"}},
      {"logout", {"Log out", "Sair", "Cerrar sesión"}},
      {"password", {"Password", "Senha", "Contraseña"}},
      {"login_failed", {"Wrong password.", "Senha incorreta.", "Contraseña incorrecta."}},
      {"login_wait",
       {"Too many attempts; wait seconds:", "Tentativas demais; aguarde segundos:",
        "Demasiados intentos; espere segundos:"}},
      {"current", {"Current version", "Versão atual", "Versión actual"}},
      {"none", {"none", "nenhuma", "ninguna"}},
      {"released", {"released", "lançada em", "publicada el"}},
      {"channel", {"Channel", "Canal", "Canal"}},
      {"recommended", {"Recommended", "Recomendado", "Recomendado"}},
      {"rc", {"Release Candidate", "Release Candidate", "Release Candidate"}},
      {"beta", {"Beta", "Beta", "Beta"}},
      {"save_channel", {"Save channel", "Salvar canal", "Guardar canal"}},
      {"channel_default", {"default from site.toml", "padrão do site.toml", "predeterminado de site.toml"}},
      {"available", {"Available updates", "Atualizações disponíveis", "Actualizaciones disponibles"}},
      {"no_updates",
       {"No update is available.", "Nenhuma atualização disponível.", "No hay actualizaciones disponibles."}},
      {"new_in", {"NEW", "NOVA", "NUEVA"}},
      {"in_channel", {"in", "no canal", "en el canal"}},
      {"created", {"Created", "Criada em", "Creada el"}},
      {"size", {"Download size", "Tamanho", "Tamaño"}},
      {"duration", {"Estimated upgrade duration", "Duração estimada", "Duración estimada"}},
      {"duration_unknown",
       {"unknown (no healthy upgrade yet)", "desconhecida (nenhuma atualização saudável ainda)",
        "desconocida (aún ninguna actualización sana)"}},
      {"critical", {"CRITICAL, due by", "CRÍTICA, prazo", "CRÍTICA, plazo"}},
      {"notes", {"What's new", "Novidades", "Novedades"}},
      {"upgrade_now", {"Upgrade now", "Atualizar agora", "Actualizar ahora"}},
      {"schedule", {"Schedule upgrade", "Agendar atualização", "Programar actualización"}},
      {"skip", {"Skip version", "Pular versão", "Omitir versión"}},
      {"delay", {"Delay", "Adiar", "Aplazar"}},
      {"delay_until", {"Delay until (UTC)", "Adiar até (UTC)", "Aplazar hasta (UTC)"}},
      {"date", {"Date", "Data", "Fecha"}},
      {"time", {"Time", "Hora", "Hora"}},
      {"preflight",
       {"Run preflight check before (minutes)", "Verificação prévia antes (minutos)",
        "Comprobación previa antes (minutos)"}},
      {"notice",
       {"Completion notice: the site's notify hook", "Aviso de conclusão: o hook notify do site",
        "Aviso de finalización: el hook notify del sitio"}},
      {"confirm_schedule", {"Confirm schedule", "Confirmar agendamento", "Confirmar programación"}},
      {"not_applicable", {"Cannot be applied", "Não pode ser aplicada", "No se puede aplicar"}},
      {"history", {"History", "Histórico", "Historial"}},
      {"reverted_to", {"reverted to", "revertida para", "revertida a"}},
      {"in_s", {"in", "em", "en"}},
      {"reason", {"reason", "motivo", "motivo"}},
      {"audit_head", {"Audit head", "Cabeça da auditoria", "Cabeza de auditoría"}},
      {"audit_export",
       {"Download audit export", "Baixar exportação da auditoria", "Descargar exportación de auditoría"}},
      {"sideload", {"Sideload bundle", "Carregar pacote", "Cargar paquete"}},
      {"upload", {"Upload", "Enviar", "Subir"}},
      {"upload_limit", {"at most", "no máximo", "como máximo"}},
      {"running", {"An upgrade is running", "Uma atualização está em andamento", "Hay una actualización en curso"}},
      {"plan", {"Preflight and plan", "Verificação prévia e plano", "Comprobación previa y plan"}},
      {"review_plan", {"Review the plan and upgrade", "Revisar o plano e atualizar", "Revisar el plan y actualizar"}},
      {"plan_preflight",
       {"Preflight results", "Resultados da verificação prévia", "Resultados de la comprobación previa"}},
      {"plan_checks",
       {"Health checks after the upgrade", "Verificações de saúde após a atualização",
        "Comprobaciones de salud tras la actualización"}},
      {"plan_migrations", {"Database migrations", "Migrações de banco de dados", "Migraciones de base de datos"}},
      {"plan_config", {"Configuration changes", "Mudanças de configuração", "Cambios de configuración"}},
      {"plan_services",
       {"Services, in the order they are replaced", "Serviços, na ordem de substituição",
        "Servicios, en el orden en que se reemplazan"}},
      {"plan_nothing", {"none", "nenhum", "ninguno"}},
      {"hard", {"hard", "obrigatória", "obligatoria"}},
      {"soft", {"soft", "opcional", "opcional"}},
      {"within", {"within", "em até", "en menos de"}},
      {"check_ok", {"passes", "passa", "pasa"}},
      {"check_fails", {"FAILS", "FALHA", "FALLA"}},
      {"check_skipped", {"skipped", "ignorada", "omitida"}},
      {"irreversible",
       {"IRREVERSIBLE: a rollback restores the database from the snapshot",
        "IRREVERSÍVEL: uma reversão restaura o banco a partir do snapshot",
        "IRREVERSIBLE: una reversión restaura la base de datos desde la instantánea"}},
      {"reversible", {"reversible", "reversível", "reversible"}},
      {"already_applied", {"already applied: skipped", "já aplicada: ignorada", "ya aplicada: se omite"}},
      {"changes", {"changes the file", "altera o arquivo", "cambia el archivo"}},
      {"no_change", {"no change", "sem mudança", "sin cambios"}},
      {"breaking_flag", {"BREAKING", "INCOMPATÍVEL", "INCOMPATIBLE"}},
      {"critical_word", {"critical", "crítica", "crítica"}},
      {"would_go_ahead",
       {"Nothing was changed. The upgrade would go ahead.", "Nada foi alterado. A atualização seguiria adiante.",
        "No se cambió nada. La actualización seguiría adelante."}},
      {"would_go_ahead_first",
       {"Nothing was changed. The upgrade would go ahead: nothing is installed yet, so the preflight checks only "
        "measure, and the failing ones above do not stop a first install.",
        "Nada foi alterado. A atualização seguiria adiante: nada está instalado ainda, então as verificações prévias "
        "apenas medem, e as que falham acima não impedem uma primeira instalação.",
        "No se cambió nada. La actualización seguiría adelante: aún no hay nada instalado, así que las comprobaciones "
        "previas solo miden, y las que fallan arriba no detienen una primera instalación."}},
      {"check_measures",
       {"fails (nothing is installed yet: the preflight checks only measure)",
        "falha (nada está instalado ainda: as verificações prévias apenas medem)",
        "falla (aún no hay nada instalado: las comprobaciones previas solo miden)"}},
      {"would_stop",
       {"Nothing was changed. The upgrade would stop:", "Nada foi alterado. A atualização pararia:",
        "No se cambió nada. La actualización se detendría:"}},
      {"back", {"Back to updates", "Voltar às atualizações", "Volver a las actualizaciones"}},
      {"degraded",
       {"The site is DEGRADED: upgrades are refused until an operator acknowledges the repair.",
        "O site está DEGRADADO: atualizações recusadas até um operador confirmar o reparo.",
        "El sitio está DEGRADADO: se rechazan actualizaciones hasta que un operador confirme la reparación."}},
      {"breaking",
       {"Its config change is breaking: I have read the notes", "A mudança de configuração é incompatível: li as notas",
        "Su cambio de configuración es incompatible: he leído las notas"}},
      {"language", {"Language", "Idioma", "Idioma"}},
      {"scheduled_jobs", {"Scheduled", "Agendadas", "Programadas"}},
      {"applied", {"Healthy", "Saudável", "Sana"}},
      {"rolled_back", {"Auto-rollback", "Reversão automática", "Reversión automática"}},
  };
  return t;
}

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& ch : o) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return o;
}

}  // namespace

std::string supported_language(std::string_view tag) {
  for (const char* l : kLanguages)
    if (tag == l) return l;
  return "";
}

std::string pick_language(std::string_view accept) {
  std::size_t pos = 0;
  while (pos < accept.size()) {  // in the header's order; q-values are not weighed
    auto end = accept.find(',', pos);
    std::string_view part = accept.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    part = part.substr(0, part.find(';'));
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    const std::string tag = lower(part);
    if (tag == "pt-br" || tag == "pt") return "pt-BR";
    if (tag == "es" || tag.rfind("es-", 0) == 0) return "es";
    if (tag == "en" || tag.rfind("en-", 0) == 0) return "en";
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return "en";
}

std::string tr(const std::string& lang, std::string_view key) {
  auto it = table().find(key);
  if (it == table().end()) return std::string(key);
  if (lang == "pt-BR") return it->second.pt;
  if (lang == "es") return it->second.es;
  return it->second.en;
}

}  // namespace airlock::ui
