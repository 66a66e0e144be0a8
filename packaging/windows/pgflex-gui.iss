; Inno Setup script for pgflex-gui: a per-user install (no administrator rights).
; Build after PyInstaller (build\dist\pgflex-gui):
;   iscc /DAppVersion=0.1.0 /DSourceDir=..\..\build\dist\pgflex-gui /DOutputDir=..\..\build\installer packaging\windows\pgflex-gui.iss

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\build\dist\pgflex-gui"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\build\installer"
#endif
#define AppName "pgflex-gui"
#define AppExe "pgflex-gui.exe"

[Setup]
AppId={{6C0B7A4E-3F1D-4B8B-9C55-2E7D0F4A9B11}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=pgflex-gui contributors
VersionInfoVersion={#AppVersion}
VersionInfoProductVersion={#AppVersion}
VersionInfoDescription={#AppName} setup
DefaultDirName={localappdata}\Programs\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
OutputDir={#OutputDir}
OutputBaseFilename={#AppName}-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppVersion}
#ifexist "..\..\src\pgflex_gui\resources\icon.ico"
SetupIconFile=..\..\src\pgflex_gui\resources\icon.ico
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{userprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{userprograms}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{userdesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Settings, logs and the audit log live in the user's profile and are kept on purpose.
Type: filesandordirs; Name: "{app}"
